package plan

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps the plan package free of CUE, Docker and
// every other module: readers of a plan file must not drag them in.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/bottleplan/bottleplan/plan":
			// the package itself
		case strings.HasPrefix(dep, "cuelang.org/"), strings.HasPrefix(dep, "github.com/docker/"):
			t.Errorf("plan imports %s (directly or not); it must stay standard library only", dep)
		case strings.Contains(strings.SplitN(dep, "/", 2)[0], "."):
			t.Errorf("plan imports module package %s; it must stay standard library only", dep)
		}
	}
}
