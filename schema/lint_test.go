package schema

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintKeyFileHome: "~/" key paths are checked against Options.Home
// only; Load never reads $HOME itself. Strict turns the warning into an
// error of the same text.
func TestLintKeyFileHome(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "m.yaml", `version: 1
bottles:
  dev:
    git_gate:
      repos:
        app:
          url: git@git.example.com:a/app.git
          key: {provider: static, path: ~/.ssh/id_app}
          host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
agents:
  a: {bottle: dev}
`)
	m, err := LoadWith(Options{Dir: dir}, "m.yaml")
	if err != nil || len(m.Warnings) != 0 {
		t.Fatalf("without Home: err %v, warnings %v; want neither", err, m.Warnings)
	}
	home := filepath.Join(dir, "home")
	m, err = LoadWith(Options{Dir: dir, Home: home}, "m.yaml")
	if err != nil || len(m.Warnings) != 1 || !m.Warnings[0].Warning || !strings.Contains(m.Warnings[0].Message, `"~/.ssh/id_app"`) {
		t.Fatalf("with Home: err %v, warnings %v; want one key file warning", err, m.Warnings)
	}
	writeFile(t, home, ".ssh/id_app", "key")
	if m, err = LoadWith(Options{Dir: dir, Home: home}, "m.yaml"); err != nil || len(m.Warnings) != 0 {
		t.Fatalf("key present: err %v, warnings %v; want neither", err, m.Warnings)
	}
	_, err = LoadWith(Options{Dir: dir, Home: t.TempDir(), Strict: true}, "m.yaml")
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Warning || !strings.HasPrefix(errs[0].Error(), "m.yaml:8:41: bottles.dev.git_gate.repos.app.key.path: ssh key file") {
		t.Fatalf("strict: %v; want the warning as one error at the key path", err)
	}
}
