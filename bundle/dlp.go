package bundle

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// DLP on the bundle (dlp.outbound_on_match) is a tripwire, not a
// guarantee. It acts on two kinds of match, and only on intercepted
// routes: a blind CONNECT tunnel carries bytes the bundle cannot read.
// The compiler intercepts every route, with or without auth and matches,
// so every route of a compiled plan is scanned; the bundle still serves
// a route marked not intercepted (an older plan) as a blind tunnel,
// without DLP. Interception has a cost: the agent must trust the
// instance CA, so a client that pins certificates, or a protocol other
// than TLS-wrapped HTTP/1.1 sent through CONNECT, cannot use a route.
//
//  1. A request the route's matches do not allow (path or method).
//     "block" denies it; "supervise" holds it (see below); "redact" also
//     denies it, since a path or method cannot be redacted into an
//     allowed one.
//  2. A request whose URL, headers or body carry the value of one of the
//     bundle's secrets (secrets_from_host: route tokens, repo tokens, the
//     agent auth token), literally or base64-encoded. The agent may hold
//     some of those values itself (env copied from the host), so this is
//     where a token would leave for a host it was not meant for.
//     "block" denies; "supervise" holds; "redact" replaces each
//     occurrence with "[REDACTED]" and forwards the request.
//
// Held requests are answered at once with 403 "blocked: held for
// supervision: ..." and listed by the supervise endpoint; they are not
// parked waiting for a human to release them (nothing in the plan says
// who would, or for how long). Secrets shorter than minSecretLen are not
// scanned for (too many false matches), and a request body larger than
// maxInspectBody is refused on an intercepted route because it cannot be
// inspected.
const (
	minSecretLen = 8
	redactedMark = "[REDACTED]"
)

// DLP actions (plan.Route.DLP).
const (
	DLPBlock     = "block"
	DLPSupervise = "supervise"
	DLPRedact    = "redact"
)

// secretForm is one spelling of a secret value the scanner looks for.
type secretForm struct {
	name  string // the env NAME, safe to log
	value []byte
}

// secretSet holds the bundle's secret values in the forms scanned for.
type secretSet struct {
	forms []secretForm
}

// newSecretSet reads the values of names through getenv.
func newSecretSet(names []string, getenv func(string) string) *secretSet {
	s := &secretSet{}
	for _, n := range names {
		v := getenv(n)
		if len(v) < minSecretLen {
			continue
		}
		s.forms = append(s.forms,
			secretForm{n, []byte(v)},
			secretForm{n, []byte(base64.StdEncoding.EncodeToString([]byte(v)))},
			secretForm{n, []byte(base64.RawURLEncoding.EncodeToString([]byte(v)))},
		)
		if q := url.QueryEscape(v); q != v {
			s.forms = append(s.forms, secretForm{n, []byte(q)})
		}
	}
	// Longest first, so redaction cuts a long form before a shorter one
	// that is part of it.
	sort.SliceStable(s.forms, func(i, j int) bool { return len(s.forms[i].value) > len(s.forms[j].value) })
	return s
}

// skipHeaders are not scanned: the proxy never forwards them (hop by
// hop). The agent's Authorization is scanned unless the route replaces
// it, in which case it is deleted before the scan.
var skipHeaders = map[string]bool{"Proxy-Authorization": true}

// scan returns the sorted, unique names of secrets found in the request
// line, headers or body.
func (s *secretSet) scan(r *http.Request, body []byte) []string {
	if len(s.forms) == 0 {
		return nil
	}
	found := map[string]bool{}
	check := func(b []byte) {
		for _, f := range s.forms {
			if !found[f.name] && bytes.Contains(b, f.value) {
				found[f.name] = true
			}
		}
	}
	check([]byte(r.URL.RequestURI()))
	for k, vs := range r.Header {
		if skipHeaders[k] {
			continue
		}
		for _, v := range vs {
			check([]byte(v))
		}
	}
	check(body)
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// scanBytes returns the sorted, unique names of secrets found in b, a
// message that is not an HTTP request (a WebSocket frame's payload).
func (s *secretSet) scanBytes(b []byte) []string {
	var names []string
	for _, f := range s.forms {
		if bytes.Contains(b, f.value) && !slices.Contains(names, f.name) {
			names = append(names, f.name)
		}
	}
	sort.Strings(names)
	return names
}

// redact replaces every secret form in the request URL, headers and body
// with redactedMark and returns the new body.
func (s *secretSet) redact(r *http.Request, body []byte) []byte {
	for _, f := range s.forms {
		v := string(f.value)
		body = bytes.ReplaceAll(body, f.value, []byte(redactedMark))
		for k, vs := range r.Header {
			if skipHeaders[k] {
				continue
			}
			for i := range vs {
				vs[i] = strings.ReplaceAll(vs[i], v, redactedMark)
			}
		}
		r.URL.Path = strings.ReplaceAll(r.URL.Path, v, redactedMark)
		r.URL.RawPath = strings.ReplaceAll(r.URL.RawPath, v, redactedMark)
		r.URL.RawQuery = strings.ReplaceAll(r.URL.RawQuery, v, url.QueryEscape(redactedMark))
	}
	return body
}

// scrub returns s with every secret form replaced by redactedMark; the
// decision log passes every free-text field through it.
func (s *secretSet) scrub(text string) string {
	for _, f := range s.forms {
		text = strings.ReplaceAll(text, string(f.value), redactedMark)
	}
	return text
}
