package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

// TestParseInterspersed: flags may come before, between or after the
// positional arguments, as under pflag; "--" ends the flags.
func TestParseInterspersed(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantPos []string
		wantT   string
	}{
		"flags first":         {[]string{"--t", "x", "a"}, []string{"a"}, "x"},
		"flags last":          {[]string{"a", "--t=x"}, []string{"a"}, "x"},
		"flags between":       {[]string{"a", "-t", "x", "b"}, []string{"a", "b"}, "x"},
		"stdin dash":          {[]string{"-", "--t", "x"}, []string{"-"}, "x"},
		"double dash":         {[]string{"a", "--", "--t", "x"}, []string{"a", "--t", "x"}, ""},
		"no args":             {nil, nil, ""},
		"json argument":       {[]string{`[{"kind":"tcp"}]`, "--t", "y"}, []string{`[{"kind":"tcp"}]`}, "y"},
		"leading double dash": {[]string{"--", "-"}, []string{"-"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			v := fs.String("t", "", "")
			pos, err := parseInterspersed(fs, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pos, tc.wantPos) || *v != tc.wantT {
				t.Errorf("positional %q, -t %q; want %q, %q", pos, *v, tc.wantPos, tc.wantT)
			}
		})
	}
}
