package smolvm

import (
	"context"
	"encoding/json"
	"errors"
	"os"
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

// TestRunnerScrubsSmolvmEnv: no SMOLVM_* variable reaches a smolvm child,
// whether inherited or in Runner.Env: each one changes smolvm's behaviour
// behind its flags, several of them the egress policy.
func TestRunnerScrubsSmolvmEnv(t *testing.T) {
	policy := map[string]string{
		"SMOLVM_EGRESS_FLOOR": "off", "SMOLVM_EGRESS_ALLOW_PRIVATE": "1",
		"SMOLVM_PUBLISH_ADDR": "0.0.0.0", "SMOLVM_ALLOW_HOST_LOOPBACK": "1", "SMOLVM_MAX_IMAGE_BYTES": "1",
	}
	for name, inherit := range map[string]bool{"inherited": true, "runner_env": false} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			r := w.runner()
			for k, v := range policy {
				if inherit {
					t.Setenv(k, v)
				} else {
					r.Env = append(r.Env, k+"="+v)
				}
			}
			if inherit {
				// nil Env inherits this process's environment; the fake's
				// settings are in it too.
				for _, kv := range w.runner().Env {
					k, v, _ := strings.Cut(kv, "=")
					if strings.HasPrefix(k, "FAKESMOLVM_") {
						t.Setenv(k, v)
					}
				}
				r.Env = nil
			}
			b, err := Open(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Apply(context.Background(), testSpec(t, "alpha"), testValues()); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(w.log)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				var rec struct {
					Argv      []string `json:"argv"`
					SmolvmEnv []string `json:"smolvm_env"`
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				n++
				if len(rec.SmolvmEnv) != 0 {
					t.Errorf("`smolvm %s` ran with %v", strings.Join(rec.Argv, " "), rec.SmolvmEnv)
				}
			}
			if n < 10 {
				t.Errorf("only %d smolvm calls recorded", n)
			}
		})
	}
}
