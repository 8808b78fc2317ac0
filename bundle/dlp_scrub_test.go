package bundle

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// The decision log passes every field through scrub: no spelling of a
// secret the scanner would find may survive it, whatever its case.
func TestAttackDLPScrub(t *testing.T) {
	s := newSecretSet([]string{"API_TOKEN"}, func(string) string { return canary })
	upper := strings.ToUpper(canary)
	tests := map[string]struct {
		in, want string
	}{
		"mixed-case CONNECT host": {upper + ".example.test", redactedMark + ".example.test"},
		"one letter changed case": {"/x/C" + canary[1:] + "/y", "/x/" + redactedMark + "/y"},
		"query escaped":           {"/q/" + url.QueryEscape(canary+"+"), "/q/" + redactedMark + "%2B"},
		"base64 whole":            {"Basic " + base64.StdEncoding.EncodeToString([]byte(canary)), "Basic " + redactedMark + "="},
		"base64 at offset 1":      {"Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+canary)), redactedMark},
		"percent-encoded":         {"/x/" + pctAll(canary, false), redactedMark},
		"json escaped":            {`\u0063` + canary[1:], redactedMark},
		"no secret":               {"/repos/acme/app", "/repos/acme/app"},
		"a part of the secret":    {"/x/" + canary[:10], "/x/" + canary[:10]},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := s.scrub(tc.in)
			if got != tc.want {
				t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if found := s.scanBytes([]byte(got)); len(found) != 0 {
				t.Errorf("scrub(%q) = %q still carries %v", tc.in, got, found)
			}
		})
	}
}
