package schema

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hangAfter is how long one Load may take before the fuzz target calls
// it a hang; the biggest input the fuzzer makes loads in milliseconds.
const hangAfter = 10 * time.Second

// fuzzExts picks the file type of a fuzz input.
var fuzzExts = []string{".yaml", ".json", ".cue", ".yml"}

// FuzzLoad feeds arbitrary bytes to the loader as a manifest file of each
// type. Load must not panic or hang, and must return either a manifest
// that keeps its invariants or a list of positioned errors. The seed
// corpus is in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"testdata/formats/manifest.yaml", "testdata/formats/manifest.json", "testdata/formats/manifest.cue"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for i, ext := range fuzzExts {
			if filepath.Ext(name) == ext {
				f.Add(data, uint8(i))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		dir := t.TempDir()
		name := "m" + fuzzExts[int(kind)%len(fuzzExts)]
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		var m *Manifest
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			m, err = LoadWith(Options{Dir: dir}, name)
		}()
		select {
		case <-done:
		case <-time.After(hangAfter):
			buf := make([]byte, 1<<20)
			t.Fatalf("Load hangs on this input (over %v):\n%s", hangAfter, buf[:runtime.Stack(buf, true)])
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load returned %T %v, want Errors", err, err)
			}
			if len(errs) == 0 {
				t.Fatal("Load returned an empty error list")
			}
			for _, e := range errs {
				if e.Message == "" {
					t.Fatalf("error without a message: %+v", e)
				}
				// parse turns a parser panic into an error so users get no
				// crash; the fuzzer must still see it as a failure.
				if strings.Contains(e.Message, "the CUE parser failed") {
					t.Fatalf("a CUE parser panicked on this input: %v", e)
				}
				if e.File != "" && e.File != name {
					t.Fatalf("error names file %q, want %q: %v", e.File, name, e)
				}
			}
			return
		}
		if m == nil || m.Bottles == nil || m.Agents == nil {
			t.Fatalf("Load returned %+v without error", m)
		}
		// What the fast path accepts, the full path must accept alike.
		if fast, full := load(t, dir, []string{name}, pathFast), load(t, dir, []string{name}, pathEntry); fast != full {
			t.Fatalf("fast path differs from the full path (-full +fast):\n%s", cmp.Diff(full, fast))
		}
		for n, a := range m.Agents {
			if m.Bottles[a.Bottle] == nil {
				t.Fatalf("agent %q names bottle %q, which is not in the result", n, a.Bottle)
			}
		}
		for n, b := range m.Bottles {
			if len(b.Chain) == 0 || b.Chain[len(b.Chain)-1] != n || b.Env == nil || b.GitGate.Repos == nil {
				t.Fatalf("bottle %q breaks the invariants: %+v", n, b)
			}
		}
	})
}
