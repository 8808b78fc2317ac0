package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// graphGolden is the example's topology; docs/example-graph.svg is the
// picture dot renders from it for the README (rewritten with -update).
const (
	graphGolden = goldenDir + "/example/graph.dot"
	graphSVG    = "../../docs/example-graph.svg"
)

// TestGraphGolden renders the example plan as DOT and compares it with
// the golden file; then dot (Debian's graphviz) must accept it. Without
// dot the rendering is skipped, unless BOTTLEPLAN_REQUIRE_DOT=1 (.ci/run).
func TestGraphGolden(t *testing.T) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := run(e, []string{"graph", filepath.Join(goldenDir, "example", "plan.json")}); code != exitOK {
		t.Fatalf("graph: exit %d: %s", code, errb.String())
	}
	if *update {
		if err := os.WriteFile(graphGolden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(graphGolden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/bottleplan -run TestGraphGolden -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("graph of the example differs from %s (rerun with -update if intended):\n%s", graphGolden, out.String())
	}
	for _, s := range []string{"10.231.40.0/28", "10.231.40.2", "10.231.40.3", "acme-egress", "shared by the project's bundles", "api.github.com", "GET,POST prefix:/repos/acme/", "git app: read-write", "supervise 10.231.40.2:9090", "guest may reach only"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("graph lacks %q", s)
		}
	}

	dot, err := exec.LookPath("dot")
	if err != nil {
		if os.Getenv("BOTTLEPLAN_REQUIRE_DOT") == "1" {
			t.Fatal("dot not found and BOTTLEPLAN_REQUIRE_DOT=1: apt-get install graphviz")
		}
		t.Skip("dot not found (apt-get install graphviz)")
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = bytes.NewReader(out.Bytes())
	var svg, derr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &svg, &derr
	if err := cmd.Run(); err != nil || derr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s", err, derr.String())
	}
	if !bytes.Contains(svg.Bytes(), []byte("<svg")) || !bytes.Contains(svg.Bytes(), []byte("10.231.40.2:9418")) {
		t.Fatalf("dot -Tsvg made no picture of the plan:\n%.500s", svg.String())
	}
	if *update {
		if err := os.WriteFile(graphSVG, svg.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
