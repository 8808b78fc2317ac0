package plan

import (
	"bytes"
	"strings"
	"testing"
)

func TestEncodeCanonicalForm(t *testing.T) {
	tests := map[string]struct {
		plan func() *Plan
		// want are substrings the encoding must contain.
		want []string
		// not are substrings it must not contain.
		not []string
	}{
		"struct fields sorted by json name": {
			plan: minimalPlan,
			want: []string{"{\n  \"address_pool\": \"10.231.0.0/16\",\n  \"format_version\": 1,\n  \"instances\": ["},
		},
		"nil slices and maps written as empty": {
			plan: minimalPlan,
			want: []string{`"skills": []`, `"guest_env": {}`, `"env_from_host": {}`, `"env_prompted": {}`, `"routes": []`, `"secrets_from_host": []`},
			not:  []string{`"skills": null`, `"guest_env": null`, `"routes": null`},
		},
		"nil pointers written as null": {
			plan: minimalPlan,
			want: []string{`"git_gate": null`, `"supervise": null`, `"resources": null`},
		},
		"omitempty fields left out": {
			plan: minimalPlan,
			not:  []string{`"machine_name"`, `"dockerfile"`, `"git_gate_url"`, `"matches"`, `"auth"`},
		},
		"no html escaping": {
			plan: func() *Plan {
				p := minimalPlan()
				p.Instances[0].Agent.Prompt = "a <b> & c"
				return p
			},
			want: []string{`"prompt": "a <b> & c"`},
			not:  []string{`\u003c`, `\u0026`},
		},
		"map keys sorted bytewise": {
			plan: func() *Plan {
				p := minimalPlan()
				p.Instances[0].GuestEnv = map[string]string{"b": "1", "A": "2", "a": "3", "B": "4"}
				return p
			},
			want: []string{"\"A\": \"2\",\n        \"B\": \"4\",\n        \"a\": \"3\",\n        \"b\": \"1\""},
		},
		"utf-8 kept as is": {
			plan: func() *Plan {
				p := minimalPlan()
				p.Instances[0].Agent.Prompt = "résumé ✓"
				return p
			},
			want: []string{`"prompt": "résumé ✓"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(tc.plan())
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("encoding lacks %q:\n%s", w, s)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(s, n) {
					t.Errorf("encoding contains %q:\n%s", n, s)
				}
			}
			if !strings.HasSuffix(s, "}\n") || strings.HasSuffix(s, "\n\n") {
				t.Errorf("encoding must end with exactly one newline after the object")
			}
			if strings.Contains(s, "\t") {
				t.Errorf("encoding is indented with tabs")
			}
		})
	}
}

// TestEncodeNilEqualsEmpty: a nil and an empty collection give the same
// bytes, so the compiler need not care which it builds.
func TestEncodeNilEqualsEmpty(t *testing.T) {
	a := minimalPlan()
	b := minimalPlan()
	in := &b.Instances[0]
	in.GuestEnv, in.EnvFromHost, in.EnvPrompted = map[string]string{}, map[string]string{}, map[string]string{}
	in.Agent.Skills = []string{}
	in.Bundle.Proxy.Routes = []Route{}
	in.Bundle.SecretsFromHost = []string{}
	ea, err := Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ea, eb) {
		t.Errorf("nil and empty collections encode differently:\n%s\n---\n%s", ea, eb)
	}
	if a.Instances[0].GuestEnv != nil || a.Instances[0].Agent.Skills != nil {
		t.Errorf("Encode changed the caller's nil collections")
	}
}

func TestEncodeDigest(t *testing.T) {
	p := examplePlan()
	p.PlanDigest = "sha256:stale"
	b, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.PlanDigest, "sha256:") || len(p.PlanDigest) != len("sha256:")+64 {
		t.Fatalf("PlanDigest = %q, want sha256:<64 hex>", p.PlanDigest)
	}
	if !bytes.Contains(b, []byte(`"plan_digest": "`+p.PlanDigest+`"`)) {
		t.Errorf("encoding does not carry the digest Encode set")
	}
	// The digest is the hash of the same bytes with the field emptied.
	blank := bytes.Replace(b, []byte(p.PlanDigest), nil, 1)
	if got := SHA256(blank); got != p.PlanDigest {
		t.Errorf("digest %s is not sha256 of the file with plan_digest empty (%s)", p.PlanDigest, got)
	}
	// Encoding again is stable, whatever the digest held before.
	again, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Errorf("second Encode differs from the first")
	}
	// Any content change moves the digest.
	before := p.PlanDigest
	p.Instances[0].Bundle.Proxy.Routes[1].Ports = []int{443, 8443}
	if _, err := Encode(p); err != nil {
		t.Fatal(err)
	}
	if p.PlanDigest == before {
		t.Errorf("changing a port left the digest unchanged")
	}
}

func TestEncodeRefusesBrokenInvariants(t *testing.T) {
	tests := map[string]struct {
		change func(p *Plan)
		want   string
	}{
		"format version unset": {
			change: func(p *Plan) { p.FormatVersion = 0 },
			want:   "format_version is 0",
		},
		"instances unsorted": {
			change: func(p *Plan) { p.Instances[0], p.Instances[1] = p.Instances[1], p.Instances[0] },
			want:   `instances are not sorted by slug ("reviewer" before "implementer")`,
		},
		"duplicate slug": {
			change: func(p *Plan) { p.Instances[1].Slug = p.Instances[0].Slug },
			want:   `instance "implementer" appears twice`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := examplePlan()
			tc.change(p)
			_, err := Encode(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestEncodeGolden pins the canonical bytes of the example plan, so any
// change to the format shows up as a golden diff.
func TestEncodeGolden(t *testing.T) {
	for name, build := range map[string]func() *Plan{"example": examplePlan, "minimal": minimalPlan} {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(build())
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".json", b)
		})
	}
}

func TestCanonicalJSON(t *testing.T) {
	type pair struct {
		Zeta  []string          `json:"zeta"`
		Alpha map[string]string `json:"alpha"`
	}
	tests := map[string]struct {
		in   any
		want string
	}{
		"fields sorted, nils empty": {in: pair{}, want: "{\n  \"alpha\": {},\n  \"zeta\": []\n}\n"},
		"pointer to struct":         {in: &pair{Zeta: []string{"<b>"}}, want: "{\n  \"alpha\": {},\n  \"zeta\": [\n    \"<b>\"\n  ]\n}\n"},
		"scalar":                    {in: 42, want: "42\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := CanonicalJSON(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("CanonicalJSON = %q, want %q", got, tc.want)
			}
		})
	}
}
