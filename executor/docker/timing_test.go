package docker

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/docker/docker/api/types/network"
)

// TestTimedReportsAndPassesThrough: Timed reports one line per call,
// naming the call and its target, and returns the wrapped Engine's
// results and errors unchanged.
func TestTimedReportsAndPassesThrough(t *testing.T) {
	boom := errors.New("boom")
	f := &fake{failNet: boom}
	var lines []string
	eng := Timed(f, func(l string) { lines = append(lines, l) })
	resp, err := eng.NetworkCreate(context.Background(), "p-a-internal", network.CreateOptions{})
	if !errors.Is(err, boom) || resp.ID != "n-p-a-internal" {
		t.Errorf("NetworkCreate = %q, %v; want the fake's ID and error", resp.ID, err)
	}
	if _, err := eng.ImageInspect(context.Background(), "missing:1"); !isNotFound(err) {
		t.Errorf("ImageInspect error %v, want not found", err)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^engine NetworkCreate p-a-internal start=\d+\.\d{4} dur=\d+\.\d{4}$`),
		regexp.MustCompile(`^engine ImageInspect missing:1 start=\d+\.\d{4} dur=\d+\.\d{4}$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines %q, want %d", len(lines), lines, len(want))
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want %v", i, lines[i], re)
		}
	}
}
