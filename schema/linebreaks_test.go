package schema

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestYAMLLineBreaks is the regression test for FuzzLoad's
// "\r\r0\r": CUE's YAML decoder panicked on a lone CR. CR LF and lone CR
// files must load like LF files, and errors must name the line a user
// sees.
func TestYAMLLineBreaks(t *testing.T) {
	lf := "version: 1\nbottles:\n  dev:\n    runtime: podman\nagents:\n  a:\n    bottle: dev\n"
	tests := map[string]struct {
		data string
	}{
		"lf":        {data: lf},
		"crlf":      {data: strings.ReplaceAll(lf, "\n", "\r\n")},
		"lone cr":   {data: strings.ReplaceAll(lf, "\n", "\r")},
		"fuzz seed": {data: "\r\r0\r"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadWith(Options{Dir: dir}, "m.yaml")
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Load = %v, want positioned errors", err)
			}
			if name == "fuzz seed" {
				return
			}
			if len(errs) != 1 || errs[0].Line != 4 || errs[0].Column != 14 {
				t.Errorf("errors = %v, want one at m.yaml:4:14", errs)
			}
		})
	}
}
