package plan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCanonicalMatchesSlow holds the direct encoder to the bytes of the
// two-pass definition, on plans and on values built to hit every kind,
// escape and fallback.
func TestCanonicalMatchesSlow(t *testing.T) {
	type inner struct {
		S   string            `json:"s,omitempty"`
		L   []string          `json:"l"`
		M   map[string]string `json:"m"`
		P   *inner            `json:"p"`
		Any any               `json:"any"`
	}
	type odd struct {
		Zebra   string         `json:"zebra"`
		Alpha   int            `json:"alpha"`
		Untaged bool           // the Go name is the key
		Skip    string         `json:"-"`
		hidden  string         //nolint:unused // unexported: never encoded
		U       uint16         `json:"u,omitempty"`
		Nested  map[string]any `json:"nested"`
		Ptrs    []*inner       `json:"ptrs"`
	}
	values := map[string]any{
		"example":     examplePlan(),
		"empty plan":  &Plan{},
		"nil pointer": (*Plan)(nil),
		"nil":         nil,
		"strings": []string{"", "plain", "<a&b>", "quote\"back\\slash", "tab\tnew\nline\r", "\x00\x1f\x7f", "é ü 日本",
			"\u2028\u2029", "bad \xff utf8", "emoji 🙂"},
		"maps":    map[string]int{"b": 2, "a": 1, "B": 3, "": 0, "é": 4, "a b": 5},
		"ints":    []int64{0, -1, 1 << 62, -1 << 63},
		"nil map": map[string]string(nil),
		"struct": odd{Zebra: "z", Alpha: -3, Untaged: true, Skip: "x", hidden: "h",
			Nested: map[string]any{"k": []int{1}, "f": 1.5, "n": nil},
			Ptrs:   []*inner{nil, {}, {S: "s", L: []string{}, P: &inner{Any: []string(nil)}}}},
		"empty struct": struct{}{},
		"floats":       []float64{0, 1.5, 1e21},
		"bytes":        []byte("abc"),
		"interface":    inner{Any: map[string][]string{"x": nil}},
	}
	for name, data := range goldenPlans(t) {
		p, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		values["golden "+name] = p
	}
	// Larger than a segment of the direct encoder.
	big := map[string][]inner{}
	for i := range 3 * segSize / 100 {
		big[fmt.Sprintf("k%06d", i)] = []inner{{S: "value", L: []string{"a", "b"}}}
	}
	values["segments"] = big
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			got, err := canonical(v)
			if err != nil {
				t.Fatal(err)
			}
			want, err := canonicalSlow(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("direct encoding differs (-slow +direct):\n%s", cmp.Diff(string(want), string(got)))
			}
			if d, err := CanonicalDigest(v); err != nil || d != SHA256(want) {
				t.Errorf("CanonicalDigest = %s, %v; want %s", d, err, SHA256(want))
			}
		})
	}
}

// goldenPlans returns the plan files of the repository's golden tests.
func goldenPlans(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("../testdata/golden/*/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("testdata/*.json")
	out := map[string][]byte{}
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = b
	}
	if len(out) < 5 {
		t.Fatalf("found %d golden plans, want the corpus", len(out))
	}
	return out
}

// TestEncodeSplicesDigest checks that Encode, which writes the digest
// into the bytes it hashed, gives the canonical encoding of the plan with
// its digest set.
func TestEncodeSplicesDigest(t *testing.T) {
	for name, data := range goldenPlans(t) {
		p, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p.PlanDigest = "sha256:stale"
		got, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := canonicalSlow(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: Encode differs from the canonical encoding (-want +got):\n%s", name, cmp.Diff(string(want), string(got)))
		}
	}
}

// TestRenderFlushes checks that writing the review as it goes gives the
// bytes of writing it at once.
func TestRenderFlushes(t *testing.T) {
	p := examplePlan()
	for i := range 50 {
		in := p.Instances[0]
		in.Slug = fmt.Sprintf("zz-%03d", i)
		p.Instances = append(p.Instances, in)
	}
	render := func(flush int) string {
		var b bytes.Buffer
		if err := Render(&b, p, RenderOptions{flush: flush}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	once, often := render(1<<62), render(1)
	if once != often {
		t.Errorf("flushing changes the review (-once +often):\n%s", cmp.Diff(once, often))
	}
}
