package smolvm

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentInstancesShareOnePack(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	be := w.open()
	specs := []Spec{testSpec(t, "alpha"), testSpec(t, "beta"), testSpec(t, "gamma")}
	var wg sync.WaitGroup
	errs := make([]error, len(specs))
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = be.Apply(ctx, s, testValues())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(w.calls(), "smolvm pack create"); n != 1 {
		t.Errorf("pack create ran %d times for one digest across concurrent instances, want 1", n)
	}
	for _, s := range specs {
		assertUp(t, w, s)
	}
}

func TestRunnerPath(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	r := w.runner()
	r.Path = filepath.Join(t.TempDir(), "no-such-smolvm")
	if _, err := Open(ctx, r); err == nil || !strings.Contains(err.Error(), "no-such-smolvm") {
		t.Errorf("Open with a configured path that does not exist: %v", err)
	}

	r = w.runner()
	t.Setenv("PATH", t.TempDir())
	if _, err := Open(ctx, r); err == nil || !strings.Contains(err.Error(), "smolvm not found on PATH") {
		t.Errorf("Open without smolvm on PATH: %v", err)
	}

	r.CacheDir = ""
	if _, err := Open(ctx, r); err == nil || !strings.Contains(err.Error(), "no cache directory") {
		t.Errorf("Open without a cache dir: %v", err)
	}
}

// TestMissingSecretValueStopsBeforeChanges: apply refuses before any
// smolvm command when a secret's value was not resolved.
func TestMissingSecretValueStopsBeforeChanges(t *testing.T) {
	w := newWorld(t)
	be := w.open()
	w.calls()
	vals := testValues()
	delete(vals, "GH_TOKEN")
	_, err := be.Apply(context.Background(), testSpec(t, "alpha"), vals)
	if err == nil || !strings.Contains(err.Error(), "no value for GH_TOKEN (<prompted>)") {
		t.Fatalf("apply without a value: %v", err)
	}
	if got := w.calls(); got != "" {
		t.Errorf("apply ran commands before refusing:\n%s", got)
	}
}
