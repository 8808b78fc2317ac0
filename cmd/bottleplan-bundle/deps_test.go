package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestOnlyBundleAndPlan keeps the bundle binary small and its code the
// bundle's own: besides the standard library it may link only
// bottleplan's bundle and plan packages, golang.org/x (the git gate's
// ssh client) and the official MCP Go SDK with what it links (the
// agent's supervise endpoint, issue 12: the issue names that SDK); no
// CUE, Docker client, telemetry or flag library, which came with the
// whole CLI before it was its own binary.
func TestOnlyBundleAndPlan(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/bottleplan/bottleplan/"
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing; the test would pass on anything")
	}
	for _, dep := range deps {
		switch {
		case dep == mod+"cmd/bottleplan-bundle":
			// the command itself
		case dep == mod+"plan", dep == mod+"bundle", strings.HasPrefix(dep, mod+"bundle/"):
		case strings.HasPrefix(dep, "golang.org/x/"):
		case slices.ContainsFunc(mcpSDK, func(p string) bool { return strings.HasPrefix(dep, p) }):
		default:
			t.Errorf("bottleplan-bundle links %s (directly or not); it may link only the standard library, golang.org/x, %splan and %sbundle/...", dep, mod, mod)
		}
	}
}

// mcpSDK are the import path prefixes of the MCP Go SDK and the modules
// it links (go-sdk v1.8.0's go.mod).
var mcpSDK = []string{
	"github.com/modelcontextprotocol/go-sdk/",
	"github.com/google/jsonschema-go/",
	"github.com/yosida95/uritemplate/",
	"github.com/segmentio/asm/",
	"github.com/segmentio/encoding/",
}
