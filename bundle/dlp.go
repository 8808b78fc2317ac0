package bundle

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
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
//  2. A request that carries the value of one of the bundle's secrets
//     (secrets_from_host: route tokens, repo tokens, the agent auth
//     token) anywhere the upstream will read it. The agent may hold some
//     of those values itself (env copied from the host), so this is where
//     a token would leave for a host it was not meant for. "block"
//     denies; "supervise" holds; "redact" cuts each occurrence out (see
//     below) and forwards the request.
//
// What DLP reads (dlp_views.go, docs/dlp.md) is what the upstream will
// read: the host name (in admit, before it is resolved, on every route),
// the method, every header name and value (but Proxy-Authorization,
// which is never forwarded, and the agent's Authorization on a route that
// replaces it), the path and query raw and percent-decoded until stable,
// and the body as sent and after its Content-Encoding (gzip, deflate,
// stacked) is undone, raw, percent- and form-decoded, JSON-unescaped,
// quoted-printable-decoded in multipart bodies, and with white space
// stripped. In every one of those views the matcher (dlp_match.go) looks
// in one pass for each secret literally, percent-escaped, and in base64
// and base64url at each of the three alignments a secret can have inside
// a longer encoded blob, and in UTF-16 and UTF-32, all ASCII
// case-insensitively. A body the bundle
// cannot decode (an unknown Content-Encoding, a corrupt stream, one that
// inflates past maxDecodedBody) or cannot hold (over maxInspectBody) is
// refused on every intercepted route, never passed unread; request
// trailers are dropped.
//
// Redaction cuts only what can be cut in place: a secret written
// literally, percent-escaped, or base64-encoded on its own, in the path,
// the query, a header value or an uncompressed body. A secret found only
// where it cannot be cut out honestly (inside a gzip or deflate body,
// inside a longer base64 blob at a shifted alignment, behind escapes, in
// a header name or the method) makes "redact" deny the request instead,
// with a reason that says so: forwarding it would send the secret, and
// mangling the encoding around it would send something the agent never
// wrote.
//
// Held requests are held open until the operator approves or denies
// them or the plan's hold timeout passes (hold.go). A secret in the
// host name of a CONNECT on a "supervise" route is refused at once with
// 403 "blocked: held for supervision: ...": the name would be resolved
// and sent in the SNI before any request could be held. Secrets shorter than minSecretLen are not
// scanned for (too many false matches).
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

// secretPattern is one spelling of one or more secret values.
type secretPattern struct {
	owners []int // indexes into secretSet.names
	// redactable: the pattern is a whole secret in one spelling, so
	// cutting it out leaves nothing of the secret behind.
	redactable bool
}

// secretSet holds the bundle's secrets as the patterns the scanner looks
// for, compiled once into one matcher.
type secretSet struct {
	names []string // the env NAMEs, safe to log
	pats  []secretPattern
	m     *matcher
}

// orNew returns s, or a new secret set of names when s is nil: New
// builds the set (its matcher) once and hands it to every daemon.
func (s *secretSet) orNew(names []string, getenv func(string) string) *secretSet {
	if s != nil {
		return s
	}
	return newSecretSet(names, getenv)
}

// newSecretSet reads the values of names through getenv.
func newSecretSet(names []string, getenv func(string) string) *secretSet {
	s := &secretSet{}
	index := map[string]int{} // folded pattern -> index in s.pats
	var bs [][]byte
	add := func(owner int, p string, redactable bool) {
		k := strings.ToLower(p)
		i, ok := index[k]
		if !ok {
			i = len(s.pats)
			index[k] = i
			s.pats = append(s.pats, secretPattern{})
			bs = append(bs, []byte(p))
		}
		sp := &s.pats[i]
		sp.redactable = sp.redactable || redactable
		for _, o := range sp.owners {
			if o == owner {
				return
			}
		}
		sp.owners = append(sp.owners, owner)
	}
	for _, n := range names {
		v := getenv(n)
		if len(v) < minSecretLen {
			continue
		}
		owner := len(s.names)
		s.names = append(s.names, n)
		for _, f := range wholeForms(v) {
			add(owner, f, true)
		}
		for _, f := range base64Inner(v) {
			add(owner, f, false)
		}
		for _, f := range wideForms(v) {
			add(owner, f, false)
		}
	}
	if len(bs) > 0 {
		s.m = newMatcher(bs)
	}
	return s
}

// wholeForms are the spellings of v that stand for all of it: literal,
// percent-escaped as a query or a path writes it, and base64 and
// base64url without padding.
func wholeForms(v string) []string {
	b := []byte(v)
	return []string{v, url.QueryEscape(v), url.PathEscape(v),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
}

// wideForms are v as UTF-16 and UTF-32 write it when v is ASCII, from
// its first byte to its last, so one form stands for both byte orders
// ("s\x00e\x00c" is inside both "s\x00e\x00c\x00" and
// "\x00s\x00e\x00c"). Parsers that detect the encoding (JSON's) read
// such text as v; they are patterns, not a view with zero bytes dropped,
// so non-ASCII text around v (few zero bytes) cannot hide it and binary
// data is not read twice. They cannot be cut in place.
func wideForms(v string) []string {
	var out []string
	for _, width := range []int{2, 4} {
		b := make([]byte, 0, len(v)*width)
		for i := 0; i < len(v); i++ {
			if v[i] >= 0x80 {
				return nil
			}
			if i > 0 {
				b = append(b, make([]byte, width-1)...)
			}
			b = append(b, v[i])
		}
		out = append(out, string(b))
	}
	return out
}

// base64Inner returns, for each of the three alignments v can have in a
// longer base64 (or base64url) text, the characters of the encoding that
// depend on the bytes of v alone. Whatever precedes or follows v in the
// encoded blob, those characters appear in it unchanged.
func base64Inner(v string) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for k := 0; k < 3; k++ {
			e := enc.EncodeToString(append(make([]byte, k), v...))
			// Character j covers bits [6j, 6j+6) of the stream; v covers
			// bits [8k, 8(k+len(v))).
			from, to := (8*k+5)/6, 8*(k+len(v))/6
			out = append(out, e[from:to])
		}
	}
	return out
}

// empty reports that there is nothing to scan for.
func (s *secretSet) empty() bool { return s == nil || s.m == nil }

// found collects which secrets were seen, and where first.
type found map[int]string

// look runs the matcher over one view, labelled where.
func (s *secretSet) look(f found, onlyRedactable bool) func(where string, b []byte) {
	return func(where string, b []byte) {
		s.m.run(b, func(_ int, p int32) {
			if onlyRedactable && !s.pats[p].redactable {
				return
			}
			for _, o := range s.pats[p].owners {
				if _, ok := f[o]; !ok {
					f[o] = where
				}
			}
		})
	}
}

// list returns the sorted names in f.
func (s *secretSet) list(f found) []string {
	names := make([]string, 0, len(f))
	for o := range f {
		names = append(names, s.names[o])
	}
	sort.Strings(names)
	return names
}

// scan returns the sorted, unique names of secrets found in what the
// upstream will read of r and body, or an error when the request cannot
// be inspected (its body's Content-Encoding); such a request must be
// refused.
func (s *secretSet) scan(r *http.Request, body []byte) ([]string, error) {
	if s.empty() {
		return nil, checkBodyDecodes(r, body)
	}
	f := found{}
	if err := requestViews(r, body, s.look(f, false)); err != nil {
		return nil, err
	}
	return s.list(f), nil
}

// scanBytes returns the sorted, unique names of secrets found in b, a
// message that is not an HTTP request (a WebSocket frame's payload), in
// the views a text body gets.
func (s *secretSet) scanBytes(b []byte) []string {
	if s.empty() {
		return nil
	}
	f := found{}
	textViews("message", b, false, nil, s.look(f, false))
	return s.list(f)
}

// redact cuts every redactable secret form out of the request's path,
// query, header values and (unencoded) body, replacing each with
// redactedMark, and returns the new body. When a secret is still there
// afterwards, in a view where it cannot be cut in place, it returns an
// error saying so and the request must be denied.
func (s *secretSet) redact(r *http.Request, body []byte) ([]byte, error) {
	if s.empty() {
		return body, nil
	}
	r.URL.Path = s.cut(r.URL.Path, redactedMark)
	r.URL.RawPath = s.cut(r.URL.RawPath, url.PathEscape(redactedMark))
	r.URL.RawQuery = s.cut(r.URL.RawQuery, url.QueryEscape(redactedMark))
	for k, vs := range r.Header {
		if skipHeader(k) {
			continue
		}
		for i := range vs {
			vs[i] = s.cut(vs[i], redactedMark)
		}
	}
	if len(contentCodings(r.Header.Values("Content-Encoding"))) == 0 {
		body = []byte(s.cut(string(body), redactedMark))
	}
	f := found{}
	if err := requestViews(r, body, s.look(f, false)); err != nil {
		return nil, err
	}
	if len(f) > 0 {
		var where []string
		for o, w := range f {
			where = append(where, s.names[o]+" in the "+w)
		}
		sort.Strings(where)
		return nil, fmt.Errorf("request carries the value of secret %s where it cannot be redacted in place; denied instead", strings.Join(where, ", "))
	}
	return body, nil
}

// cut replaces every redactable form in text with mark, overlapping
// matches merged into one cut.
func (s *secretSet) cut(text, mark string) string {
	if text == "" {
		return text
	}
	type span struct{ from, to int }
	var spans []span
	s.m.run([]byte(text), func(end int, p int32) {
		if !s.pats[p].redactable {
			return
		}
		from := end - s.m.plen[p]
		// Ends arrive in order; merge with the last span when they touch.
		if n := len(spans); n > 0 && from <= spans[n-1].to {
			spans[n-1].from = min(spans[n-1].from, from)
			spans[n-1].to = max(spans[n-1].to, end)
			for n > 1 && spans[n-1].from <= spans[n-2].to {
				spans[n-2].to = max(spans[n-2].to, spans[n-1].to)
				spans[n-2].from = min(spans[n-2].from, spans[n-1].from)
				spans = spans[:n-1]
				n--
			}
			return
		}
		spans = append(spans, span{from, end})
	})
	if len(spans) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		if sp.from < last {
			sp.from = last
		}
		b.WriteString(text[last:sp.from])
		b.WriteString(mark)
		last = sp.to
	}
	b.WriteString(text[last:])
	return b.String()
}

// scrub returns text with every secret form the scanner finds in plain
// text cut out, case-insensitively; when a secret is still there in a
// decoded view of what is left (percent-escaped, JSON-escaped, base64 at
// an offset), the whole text becomes redactedMark. The decision log
// passes every field through it.
func (s *secretSet) scrub(text string) string {
	if s.empty() || text == "" {
		return text
	}
	text = s.cut(text, redactedMark)
	f := found{}
	textViews("field", []byte(text), true, nil, s.look(f, false))
	if len(f) > 0 {
		return redactedMark
	}
	return text
}
