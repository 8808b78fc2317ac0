package bundle

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// What DLP reads of a request: every byte string the upstream will read,
// each as sent and as the upstream may decode it. A view is one such byte
// string, labelled with where it comes from for the decision's reason;
// the matcher runs over each view once, so the cost of a request is its
// size times the number of views that differ, whatever the number of
// secrets.

// skipHeader reports the headers DLP does not read because the proxy
// never forwards them: Proxy-Authorization (hop by hop). The agent's
// Authorization is read unless the route replaces it, in which case it
// is deleted before the scan.
func skipHeader(name string) bool { return name == "Proxy-Authorization" }

// requestViews calls view with each view of r and its (raw) body. It
// fails, without reading the body, when the body's Content-Encoding
// cannot be decoded within maxDecodedBody.
//
// The decodings of all its views together may take at most maxScanViews
// bytes: a request that needs more (a large body dense with escapes of
// both kinds) is refused, since DLP could not read it all, rather than
// let one request make the bundle hold many copies of a large body.
func requestViews(r *http.Request, body []byte, view func(where string, b []byte)) error {
	budget := &scanBudget{left: maxScanViews}
	if err := requestViewsWithin(r, body, budget, view); err != nil {
		return err
	}
	if budget.spent() {
		return fmt.Errorf("request needs more than the %d MiB of decoding DLP reads a request with; send it with fewer escapes or in smaller parts", maxScanViews>>20)
	}
	return nil
}

// requestViewsWithin is requestViews spending budget.
func requestViewsWithin(r *http.Request, body []byte, budget *scanBudget, view func(where string, b []byte)) error {
	view("method", []byte(r.Method))
	textViews("path", []byte(r.URL.EscapedPath()), false, budget, view)
	if r.URL.RawQuery != "" {
		textViews("query", []byte(r.URL.RawQuery), true, budget, view)
	}
	for k, vs := range r.Header {
		if skipHeader(k) {
			continue
		}
		view("header name", []byte(k))
		for _, v := range vs {
			textViews("header value", []byte(v), false, budget, view)
		}
	}
	if len(body) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form := mt == "application/x-www-form-urlencoded"
	where := "body"
	if cs := contentCodings(r.Header.Values("Content-Encoding")); len(cs) > 0 {
		raw := body
		var err error
		if body, err = decodeContent(cs, body); err != nil {
			return err
		}
		// The bytes as sent are read too: an upstream that does not undo
		// the Content-Encoding keeps them as they are, and decoding skips
		// some (bytes after the end of a deflate stream, gzip header
		// fields).
		textViews("body as sent", raw, form, budget, view)
		where = strings.Join(cs, "+") + "-decoded body"
	}
	textViews(where, body, form, budget, view)
	if strings.HasPrefix(mt, "multipart/") && bytes.Contains(bytes.ToLower(body), []byte("quoted-printable")) {
		if d := qpDecode(body); d != nil && budget.take(len(d)) {
			textViews("quoted-printable "+where, d, false, budget, view)
		}
	}
	return nil
}

// checkBodyDecodes is the Content-Encoding check of requestViews alone,
// for a bundle with no secret to look for: a body it could not read is
// still refused, so the rule does not depend on the secrets.
func checkBodyDecodes(r *http.Request, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	if cs := contentCodings(r.Header.Values("Content-Encoding")); len(cs) > 0 {
		_, err := decodeContent(cs, body)
		return err
	}
	return nil
}

// textViews calls view with b and with each decoding of it that differs:
// percent- and JSON-decoded step by step until stable (decodeViews) (and with '+'
// as a space first when form), and with white space stripped
// (line-wrapped base64), raw and fully decoded.
func textViews(where string, b []byte, form bool, budget *scanBudget, view func(string, []byte)) {
	view(where, b)
	last := decodeViews(b, false, budget, func(d []byte) { view("decoded "+where, d) })
	if form && bytes.IndexByte(b, '+') >= 0 {
		decodeViews(b, true, budget, func(d []byte) { view("form-decoded "+where, d) })
	}
	if s := stripSpace(b); s != nil && budget.take(len(s)) {
		view(where+" without white space", s)
	}
	if last != nil {
		if s := stripSpace(last); s != nil && budget.take(len(s)) {
			view("decoded "+where+" without white space", s)
		}
	}
}
