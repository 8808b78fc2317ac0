package bundle

import (
	"bytes"
	"fmt"
	"math/rand"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// naiveMatches finds every (end, pattern) the slow way.
func naiveMatches(pats [][]byte, b []byte) []string {
	var out []string
	lb := asciiLower(b)
	for id, p := range pats {
		lp := asciiLower(p)
		for i := 0; i+len(lp) <= len(lb); i++ {
			if bytes.Equal(lb[i:i+len(lp)], lp) {
				out = append(out, fmt.Sprint(i+len(lp), ":", id))
			}
		}
	}
	sort.Strings(out)
	return out
}

func asciiLower(b []byte) []byte {
	out := bytes.Clone(b)
	for i, c := range out {
		if 'A' <= c && c <= 'Z' {
			out[i] = c + 32
		}
	}
	return out
}

func TestMatcherAgreesWithNaiveSearch(t *testing.T) {
	tests := map[string]struct {
		pats []string
		text string
	}{
		"overlapping":       {[]string{"he", "she", "his", "hers"}, "ushers and his sheep"},
		"suffix of another": {[]string{"abcd", "bcd", "cd", "d"}, "xabcdabcd"},
		"case folded":       {[]string{"Token-AB"}, "a tOKEN-ab b TOKEN-AB"},
		"repeated":          {[]string{"aa", "aaa"}, "aaaaaa"},
		"non-ascii":         {[]string{"\xff\x00z"}, "\xff\x00Z\xff\x00z"},
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		var pats []string
		for j := 0; j < 1+rng.Intn(8); j++ {
			pats = append(pats, randString(rng, 1+rng.Intn(5), "abAB-"))
		}
		tests[fmt.Sprint("random ", i)] = struct {
			pats []string
			text string
		}{pats, randString(rng, 200, "abcAB-")}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var pats [][]byte
			for _, p := range tc.pats {
				pats = append(pats, []byte(p))
			}
			m := newMatcher(pats)
			var got []string
			m.run([]byte(tc.text), func(end int, p int32) { got = append(got, fmt.Sprint(end, ":", p)) })
			sort.Strings(got)
			if want := naiveMatches(pats, []byte(tc.text)); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("matches\n%v\nwant\n%v", got, want)
			}
		})
	}
}

func randString(rng *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.Intn(len(alphabet))]
	}
	return string(b)
}

// BenchmarkDLPScan scans a 64 KiB JSON body (with escapes and white
// space, so the decoded and stripped views are read too) for 1, 10 and
// 100 secrets: one automaton, so the cost should not grow with them.
func BenchmarkDLPScan(b *testing.B) {
	rng := rand.New(rand.NewSource(7))
	var body bytes.Buffer
	for body.Len() < 64<<10 {
		fmt.Fprintf(&body, "{\"id\": %d, \"text\": \"%s\\n\"}\n", rng.Int(), randString(rng, 60, "abcdefghijklmnopqrstuvwxyz0123456789 "))
	}
	payload := body.Bytes()[:64<<10]
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprint(n, " secrets"), func(b *testing.B) {
			env := map[string]string{}
			var names []string
			for i := 0; i < n; i++ {
				name := fmt.Sprint("TOKEN_", i)
				names = append(names, name)
				env[name] = "ghp_" + randString(rng, 36, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
			}
			s := newSecretSet(names, func(k string) string { return env[k] })
			r, _ := http.NewRequest("POST", "https://api.example.test/repos/acme/app/issues?per_page=100", nil)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("User-Agent", "bench")
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if found, err := s.scan(r, payload); err != nil || len(found) != 0 {
					b.Fatal(found, err)
				}
			}
		})
	}
}
