package plan

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRoundTrip: Decode then Encode gives back the exact bytes, for the
// golden plans and for freshly encoded ones.
func TestRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden plans in testdata (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Encode(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, again) {
				t.Errorf("round trip changed the bytes:\n%s", cmp.Diff(string(b), string(again)))
			}
		})
	}
}

func TestDecodeGivesThePlanEncoded(t *testing.T) {
	want := examplePlan()
	b, err := Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	// Nil and empty collections are the same plan.
	if d := cmp.Diff(want, got, cmpEmptyIsNil); d != "" {
		t.Errorf("decoded plan differs (-encoded +decoded):\n%s", d)
	}
}

// cmpEmptyIsNil makes cmp treat nil and empty slices and maps alike, as
// the canonical encoding does.
var cmpEmptyIsNil = cmp.FilterValues(func(a, b any) bool {
	return isEmptyCollection(a) && isEmptyCollection(b)
}, cmp.Comparer(func(a, b any) bool { return true }))

func isEmptyCollection(v any) bool {
	switch v := v.(type) {
	case []string:
		return len(v) == 0
	case []Route:
		return len(v) == 0
	case map[string]string:
		return len(v) == 0
	}
	return false
}

func TestDecodeRefuses(t *testing.T) {
	good, err := Encode(examplePlan())
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	tests := map[string]struct {
		input string
		want  string
	}{
		"empty file": {
			input: "",
			want:  "not a plan file",
		},
		"not json": {
			input: "format_version: 1\n",
			want:  "not a plan file",
		},
		"array": {
			input: "[]\n",
			want:  "not a plan file",
		},
		"format version missing": {
			input: "{}\n",
			want:  "format_version is missing",
		},
		"format version 2": {
			input: strings.Replace(s, `"format_version": 1`, `"format_version": 2`, 1),
			want:  "format_version 2 is not supported (this bottleplan reads only 1)",
		},
		"format version as string": {
			input: strings.Replace(s, `"format_version": 1`, `"format_version": "1"`, 1),
			want:  `format_version "1" is not supported`,
		},
		"format version 2 with new fields": {
			input: strings.Replace(s, `"format_version": 1`, `"format_version": 2, "future": true`, 1),
			want:  "format_version 2 is not supported",
		},
		"unknown field": {
			input: strings.Replace(s, `"project": "acme"`, `"project": "acme", "projekt": "acme"`, 1),
			want:  `unknown field "projekt"`,
		},
		"unknown nested field": {
			input: strings.Replace(s, `"dlp": "block"`, `"dlp": "block", "allow_all": true`, 1),
			want:  `unknown field "allow_all"`,
		},
		"wrong type": {
			input: strings.Replace(s, `"pinned": true`, `"pinned": "yes"`, 1),
			want:  "invalid plan file",
		},
		"trailing data": {
			input: s + "{}\n",
			want:  "not a plan file",
		},
		"content altered, digest kept": {
			input: strings.Replace(s, `"host": "pypi.org"`, `"host": "evil.org"`, 1),
			want:  "plan_digest does not match the content",
		},
		"digest removed": {
			input: strings.Replace(s, `"plan_digest": "sha256:`, `"plan_digest": "x`, 1),
			want:  "plan_digest does not match the content",
		},
		"reformatted": {
			input: strings.ReplaceAll(s, "  ", "\t"),
			want:  "not in canonical form",
		},
		"trailing newline dropped": {
			input: strings.TrimSuffix(s, "\n"),
			want:  "not in canonical form",
		},
		"instances out of order": {
			input: swapInstances(t, good),
			want:  "instances are not sorted by slug",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Decode([]byte(tc.input))
			if err == nil {
				t.Fatalf("Decode accepted the plan (project %q)", p.Project)
			}
			var ue *UnusableError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is %T, want *UnusableError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "re-run bottleplan plan") {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
}

// swapInstances re-encodes b with its first two instances swapped and a
// digest that matches, so only the order rule can refuse it.
func swapInstances(t *testing.T, b []byte) string {
	t.Helper()
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	p.Instances[0], p.Instances[1] = p.Instances[1], p.Instances[0]
	p.PlanDigest = ""
	out, err := canonical(p)
	if err != nil {
		t.Fatal(err)
	}
	out = bytes.Replace(out, []byte(`"plan_digest": ""`), []byte(`"plan_digest": "`+SHA256(out)+`"`), 1)
	return string(out)
}

// TestDecodeRefusesEveryOneByteChange changes each byte of a plan file
// in turn; every variant must be refused as unusable.
func TestDecodeRefusesEveryOneByteChange(t *testing.T) {
	good, err := os.ReadFile("testdata/minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(good); err != nil {
		t.Fatalf("the unchanged file is refused: %v", err)
	}
	for i := range good {
		for _, flip := range []byte{0x01, 0x20} {
			b := bytes.Clone(good)
			b[i] ^= flip
			if _, err := Decode(b); !IsUnusable(err) {
				t.Fatalf("changing byte %d from %q to %q: Decode error = %v, want *UnusableError", i, good[i], b[i], err)
			}
		}
	}
}
