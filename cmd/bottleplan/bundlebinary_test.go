package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBundleBinary: apply finds bottleplan-bundle from --bundle-binary,
// beside its executable, or beside the file a symlinked executable
// points to; when there is none the error says how to get one (go run
// has no sibling).
func TestBundleBinary(t *testing.T) {
	dir := t.TempDir()
	mk := func(path string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	installed := mk(filepath.Join(dir, "gobin", "bottleplan"))
	sibling := mk(filepath.Join(dir, "gobin", "bottleplan-bundle"))
	lonely := mk(filepath.Join(dir, "go-build", "exe", "bottleplan"))
	flagged := mk(filepath.Join(dir, "elsewhere", "bb"))
	link := filepath.Join(dir, "bin", "bottleplan")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(installed, link); err != nil {
		t.Fatal(err)
	}
	exe := func(path string) func() (string, error) { return func() (string, error) { return path, nil } }

	tests := map[string]struct {
		flag    string
		exe     func() (string, error)
		want    string
		wantErr []string
	}{
		"beside the executable":         {exe: exe(installed), want: sibling},
		"beside a symlink's target":     {exe: exe(link), want: sibling},
		"the flag wins":                 {flag: flagged, exe: exe(installed), want: flagged},
		"go run: no sibling":            {exe: exe(lonely), wantErr: []string{"bottleplan-bundle", lonely, "CGO_ENABLED=0 go install ./cmd/...", "CGO_ENABLED=0 go build -o bottleplan-bundle ./cmd/bottleplan-bundle", "--bundle-binary"}},
		"the flag names a missing file": {flag: filepath.Join(dir, "nosuch"), exe: exe(installed), wantErr: []string{"--bundle-binary", "nosuch", "CGO_ENABLED=0 go build"}},
		"no executable path":            {exe: func() (string, error) { return "", errors.New("unsupported") }, wantErr: []string{"unsupported", "--bundle-binary"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := bundleBinary(tc.flag, tc.exe)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("bundleBinary = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || got != "" {
				t.Fatalf("bundleBinary = %q, %v; want an error", got, err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
