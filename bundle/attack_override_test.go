package bundle

import (
	"net/http"
	"strings"
	"testing"
)

// Method and URL override headers make some frameworks and gateways act
// on another method or path than the one the route's matches checked;
// they never reach the upstream of an intercepted route.
func TestAttackOverrideHeadersStripped(t *testing.T) {
	tests := map[string]string{
		"X-HTTP-Method-Override": "DELETE",
		"X-HTTP-Method":          "DELETE",
		"X-Method-Override":      "DELETE",
		"X-Original-Method":      "DELETE",
		"X-Original-URL":         "/admin/delete",
		"X-Rewrite-URL":          "/admin/delete",
		"X-Override-URL":         "/admin/delete",
		"X-Original-URI":         "/admin/delete",
		"X-Forwarded-Prefix":     "/admin",
		"X_Original_URL":         "/admin/delete",
		"x-http-method-override": "DELETE",
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			f := newAttackFixture(t)
			a := f.tunnel(t, "api.example.test")
			resp, body := a.roundTrip(t, "GET /repos/acme/app HTTP/1.1\r\nHost: api.example.test\r\n"+name+": "+value+"\r\nConnection: close\r\n\r\n")
			a.Close()
			reqs, seen := f.tlsUp.seen(t)
			if resp.StatusCode != http.StatusOK || len(reqs) != 1 {
				t.Fatalf("got %d %q; upstream saw %s", resp.StatusCode, body, seen)
			}
			for k := range reqs[0].Header {
				if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), strings.ReplaceAll(name, "_", "-")) {
					t.Fatalf("upstream got %s: %s", k, reqs[0].Header[k])
				}
			}
		})
	}
}
