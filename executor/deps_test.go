package executor

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoBackendDependencies keeps the executor core free of any backend:
// it decides, backends act, so it must not pull in the Docker client (or
// anything outside the standard library, the plan package and the probe
// wire types in bundle/probewire).
func TestNoBackendDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/bottleplan/bottleplan/executor", dep == "github.com/bottleplan/bottleplan/plan",
			dep == "github.com/bottleplan/bottleplan/bundle/probewire", dep == "github.com/bottleplan/bottleplan/bundle/operatorwire":
		case strings.Contains(strings.SplitN(dep, "/", 2)[0], "."):
			t.Errorf("executor imports %s (directly or not); only backends in subpackages may", dep)
		}
	}
}

// TestOnlyTheDockerBackendImportsTheClient: of the module's packages,
// only executor/docker (and its test helpers) import the Docker client
// directly.
func TestOnlyTheDockerBackendImportsTheClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-test", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/bottleplan/bottleplan/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if !strings.Contains(" "+imports+" ", " github.com/docker/docker/client ") {
			continue
		}
		base, _, _ := strings.Cut(pkg, " ")
		base = strings.TrimSuffix(strings.TrimSuffix(base, "_test"), ".test")
		if base != "github.com/bottleplan/bottleplan/executor/docker" && base != "github.com/bottleplan/bottleplan/executor/docker/dockertest" {
			t.Errorf("%s imports the Docker client; go through executor/docker", pkg)
		}
	}
}
