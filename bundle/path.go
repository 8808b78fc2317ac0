package bundle

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// normalizePath returns the one spelling of a request path that the
// route's matches are checked against and that the upstream is sent,
// or an error saying why the path has no single meaning. The error does
// not repeat the path: it becomes a decision's reason, which is part of
// the log's aggregation key, and the decision holds the path already.
//
// escaped is the path as it arrived on the wire (URL.EscapedPath()); the
// result is decoded, like the manifest's path values. Each segment:
//   - loses its ";" parameters ("app;jsessionid=1" is "app", "..;x" is
//     ".."), as Tomcat, Jetty and Spring read them;
//   - is percent-decoded once;
//   - "." is dropped, ".." removes the segment before it (RFC 3986
//     remove_dot_segments), and an empty segment ("//") is dropped; a
//     trailing "/" is kept.
//
// Refused, because one upstream may read them differently from another
// or decode them again: an invalid escape; an encoded "/" or "\" (%2F,
// %5C) or a raw "\"; an encoded ";" or "%" (%3B, %25: "%252e" would be
// "." to a server that decodes twice); a control character (NUL and the
// rest of C0, DEL); bytes that are not UTF-8 (overlong forms such as
// %c0%ae); a ".." above the root; a path that does not start with "/".
//
// The result holds no "%", ";", "\", dot or empty segments, so encoding
// it (URL.EscapedPath of a URL whose Path is the result) and normalizing
// again gives it back unchanged.
func normalizePath(escaped string) (string, error) {
	if !strings.HasPrefix(escaped, "/") {
		return "", errors.New("path is not absolute")
	}
	raw := strings.Split(escaped[1:], "/")
	out := make([]string, 0, len(raw))
	trailing := false
	for i, seg := range raw {
		last := i == len(raw)-1
		if j := strings.IndexByte(seg, ';'); j >= 0 {
			seg = seg[:j]
		}
		dec, err := decodeSegment(seg)
		if err != nil {
			return "", fmt.Errorf("path refused: %v", err)
		}
		trailing = false
		switch dec {
		case "":
			trailing = last
		case ".":
			trailing = last
		case "..":
			if len(out) == 0 {
				return "", errors.New("path climbs above the root")
			}
			out = out[:len(out)-1]
			trailing = last
		default:
			out = append(out, dec)
		}
	}
	p := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		p += "/"
	}
	return p, nil
}

// decodeSegment percent-decodes one path segment (its ";" parameters
// already cut off) and refuses the bytes listed on normalizePath.
func decodeSegment(seg string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c == '%' {
			hi, ok1 := unhex(seg[min(i+1, len(seg)-1)])
			lo, ok2 := unhex(seg[min(i+2, len(seg)-1)])
			if i+2 >= len(seg) || !ok1 || !ok2 {
				return "", errors.New("invalid percent escape")
			}
			c = hi<<4 | lo
			i += 2
			switch c {
			case '/', '\\':
				return "", errors.New("encoded slash or backslash")
			case ';', '%':
				return "", errors.New("encoded ';' or '%' (decoded again upstream)")
			}
		}
		switch {
		case c == '\\':
			return "", errors.New("backslash")
		case c < 0x20 || c == 0x7f:
			return "", errors.New("control character")
		}
		b.WriteByte(c)
	}
	s := b.String()
	if !utf8.ValidString(s) {
		return "", errors.New("bytes that are not UTF-8")
	}
	return s, nil
}
