package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResourcesDefaults: every bottle has a pids limit, with or without
// a resources block, on the fast path (one YAML file) and the full path
// (CUE), and a route opts into WebSocket upgrades only when it says so.
func TestResourcesDefaults(t *testing.T) {
	tests := map[string]struct {
		file, body string
		want       Resources
		websocket  bool
	}{
		"no resources yaml":   {"m.yaml", "version: 1\nbottles: {b: {egress: {routes: [{host: a.example.com}]}}}\nagents: {a: {bottle: b}}\n", Resources{Pids: 4096}, false},
		"no resources cue":    {"m.cue", "version: 1\nbottles: b: egress: routes: [{host: \"a.example.com\"}]\nagents: a: bottle: \"b\"\n", Resources{Pids: 4096}, false},
		"cpus only yaml":      {"m.yaml", "version: 1\nbottles: {b: {resources: {cpus: 2}, egress: {routes: [{host: a.example.com, websocket: true}]}}}\nagents: {a: {bottle: b}}\n", Resources{CPUs: 2, Pids: 4096}, true},
		"cpus only cue":       {"m.cue", "version: 1\nbottles: b: {resources: cpus: 2, egress: routes: [{host: \"a.example.com\", websocket: true}]}\nagents: a: bottle: \"b\"\n", Resources{CPUs: 2, Pids: 4096}, true},
		"pids set yaml":       {"m.yaml", "version: 1\nbottles: {b: {resources: {pids: 64}, egress: {routes: [{host: a.example.com}]}}}\nagents: {a: {bottle: b}}\n", Resources{Pids: 64}, false},
		"pids inherited yaml": {"m.yaml", "version: 1\nbottles: {p: {resources: {pids: 512}}, b: {extends: p, egress: {routes: [{host: a.example.com}]}}}\nagents: {a: {bottle: b}}\n", Resources{Pids: 512}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tc.file, tc.body)
			m, err := LoadWith(Options{Dir: dir}, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			b := m.Bottles["b"]
			if d := cmp.Diff(&tc.want, b.Resources); d != "" {
				t.Errorf("resources (-want +got):\n%s", d)
			}
			if got := b.Egress.Routes[0].Websocket; got != tc.websocket {
				t.Errorf("websocket = %v, want %v", got, tc.websocket)
			}
		})
	}
}
