package bundle

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoders DLP uses to see bytes as an upstream would read them. The
// text decoders are lenient on purpose: a server decodes what it can, so
// DLP decodes every valid escape and keeps the rest as it is, and never
// fails. Each returns nil when its input has nothing to decode, so the
// common case costs no copy.

// maxDecodeRounds bounds how many times a view is decoded again while
// decoding still changes it (a secret percent-encoded twice, a JSON
// escape inside a percent-escape).
const maxDecodeRounds = 8

// maxDecodedViews bounds the decodings of one byte string decodeViews
// makes, so an input full of both kinds of escape costs at most this many
// passes more.
const maxDecodedViews = 16

// maxContentCodings bounds the stacked Content-Encoding layers a body may
// declare.
const maxContentCodings = 4

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pctDecode decodes every valid %XX escape (either case of hex digits),
// and '+' to ' ' when plus.
func pctDecode(b []byte, plus bool) []byte {
	if bytes.IndexByte(b, '%') < 0 && (!plus || bytes.IndexByte(b, '+') < 0) {
		return nil
	}
	out := make([]byte, 0, len(b))
	changed := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '%' && i+2 < len(b) {
			hi, ok1 := unhex(b[i+1])
			lo, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				changed = true
				continue
			}
		}
		if c == '+' && plus {
			c, changed = ' ', true
		}
		out = append(out, c)
	}
	if !changed {
		return nil
	}
	return out
}

// jsonUnescape decodes the backslash escapes of a JSON string (\uXXXX
// with surrogate pairs, \n, \", ...) and the \xHH escape of JavaScript
// and Python string literals, wherever they occur.
func jsonUnescape(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return nil
	}
	out := make([]byte, 0, len(b))
	changed := false
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/', '\'':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'x':
			v, ok := hexN(b[i+2:], 2)
			if !ok {
				out = append(out, b[i])
				continue
			}
			out = append(out, byte(v))
			i += 2
		case 'u':
			r, ok := hexN(b[i+2:], 4)
			if !ok {
				out = append(out, b[i])
				continue
			}
			i += 4
			if utf16.IsSurrogate(rune(r)) && i+7 < len(b) && b[i+2] == '\\' && b[i+3] == 'u' {
				if r2, ok := hexN(b[i+4:], 4); ok {
					if c := utf16.DecodeRune(rune(r), rune(r2)); c != utf8.RuneError {
						out = utf8.AppendRune(out, c)
						i += 6
						break
					}
				}
			}
			out = utf8.AppendRune(out, rune(r))
		default:
			out = append(out, b[i])
			continue
		}
		i++
		changed = true
	}
	if !changed {
		return nil
	}
	return out
}

// hexN reads n hex digits at the start of b.
func hexN(b []byte, n int) (uint32, bool) {
	if len(b) < n {
		return 0, false
	}
	var v uint32
	for _, c := range b[:n] {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}

// decodeViews calls fn with every distinct decoding of b by percent-
// decoding and JSON-unescaping applied in any order, again and again while
// that changes it: at most maxDecodeRounds deep and maxDecodedViews in
// all. Every intermediate result is a view, so a secret whose own bytes
// look like an escape is seen in the decoding that reveals it, before a
// further one mangles it; and since the two decoders are tried in both
// orders, a secret that holds one kind of escape and was written with
// the other is seen too. Input with only one kind of escape is a single
// chain. It returns the deepest result, or nil when nothing decoded.
// With plus, the first percent-decoding also reads '+' as a space (form
// encoding).
//
// Each decoding is charged to budget as it is made, and none is kept or
// made once budget is spent: the views of one request cost at most its
// budget, plus the one step (two decodings) that spent it, in memory.
func decodeViews(b []byte, plus bool, budget *scanBudget, fn func([]byte)) []byte {
	type node struct {
		b     []byte
		depth int
	}
	var last []byte
	queue := []node{{b, 0}}
	views := 0
	for len(queue) > 0 && views < maxDecodedViews {
		nd := queue[0]
		queue = queue[1:]
		if nd.depth >= maxDecodeRounds {
			continue
		}
		for _, d := range [2][]byte{pctDecode(nd.b, plus && nd.depth == 0), jsonUnescape(nd.b)} {
			if d == nil || views >= maxDecodedViews {
				continue
			}
			if !budget.take(len(d)) {
				return last
			}
			views++
			fn(d)
			last = d
			queue = append(queue, node{d, nd.depth + 1})
		}
	}
	return last
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// scanBudget is how many bytes of decoded views one request may still
// make (maxScanViews); nil means no budget (a WebSocket message or a log
// field, bounded by their own caps).
type scanBudget struct{ left int }

// take spends n bytes, or reports false, and marks the budget spent,
// when fewer are left.
func (b *scanBudget) take(n int) bool {
	if b == nil {
		return true
	}
	if n > b.left {
		b.left = -1
		return false
	}
	b.left -= n
	return true
}

// spent reports whether a take was refused.
func (b *scanBudget) spent() bool { return b != nil && b.left < 0 }

// stripSpace drops every ASCII white-space byte (line-wrapped base64).
func stripSpace(b []byte) []byte {
	i := 0
	for i < len(b) && !isSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return nil
	}
	out := make([]byte, i, len(b))
	copy(out, b[:i])
	for ; i < len(b); i++ {
		if !isSpace(b[i]) {
			out = append(out, b[i])
		}
	}
	return out
}

// qpDecode decodes quoted-printable: "=XX" escapes and "=" soft line
// breaks.
func qpDecode(b []byte) []byte {
	if bytes.IndexByte(b, '=') < 0 {
		return nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '=' && i+1 < len(b) {
			if b[i+1] == '\n' {
				i++
				continue
			}
			if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
				i += 2
				continue
			}
			if v, ok := hexN(b[i+1:], 2); ok {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

// contentCodings lists the codings of Content-Encoding header values in
// the order they were applied, lower case, without "identity".
func contentCodings(values []string) []string {
	var cs []string
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if c != "" && c != "identity" {
				cs = append(cs, c)
			}
		}
	}
	return cs
}

// errInflate is the refusal of a body that inflates past what can be
// inspected.
var errInflate = fmt.Errorf("request body inflates past the %d MiB that can be inspected; send less, or send it uncompressed", maxDecodedBody>>20)

// decodeContent undoes the Content-Encoding codings of body (last applied
// first) so DLP reads what the upstream will. Every coding it cannot
// decode, a corrupt stream, or an inflated size over maxDecodedBody is an
// error: such a body is refused, never passed unread.
func decodeContent(codings []string, body []byte) ([]byte, error) {
	if len(codings) > maxContentCodings {
		return nil, fmt.Errorf("request body has Content-Encoding with %d codings, over the %d that are inspected", len(codings), maxContentCodings)
	}
	for i := len(codings) - 1; i >= 0; i-- {
		var out []byte
		var err error
		switch c := codings[i]; c {
		case "gzip", "x-gzip":
			out, err = inflate(func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }, body)
		case "deflate":
			// RFC 9110 says the zlib format; some clients send raw
			// deflate, which servers commonly accept too.
			out, err = inflate(func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }, body)
			if err != nil && !errors.Is(err, errInflate) && !errors.Is(err, errAfterStream) {
				out, err = inflate(func(r io.Reader) (io.Reader, error) { return flate.NewReader(r), nil }, body)
			}
		default:
			return nil, fmt.Errorf("request body has Content-Encoding %q, which the bundle cannot decode to inspect; send it uncompressed, gzip or deflate", c)
		}
		if errors.Is(err, errInflate) || errors.Is(err, errAfterStream) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("request body has Content-Encoding %s that does not decode (%v), so it cannot be inspected", codings[i], err)
		}
		body = out
	}
	return body, nil
}

// errAfterStream is the refusal of a body with bytes after the end of
// its compressed stream: a second stream, or text, that one upstream
// reads and another ignores.
var errAfterStream = errors.New("request body has bytes after its deflate stream, which upstreams read differently; send one stream")

// inflate reads what open makes of body, up to maxDecodedBody bytes,
// and refuses bytes after the end of the stream. (gzip reads every
// member to the end itself, and refuses what is not one.)
func inflate(open func(io.Reader) (io.Reader, error), body []byte) ([]byte, error) {
	br := bytes.NewReader(body)
	rd, err := open(br)
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(rd, maxDecodedBody+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecodedBody {
		return nil, errInflate
	}
	if br.Len() > 0 {
		return nil, errAfterStream
	}
	return out, nil
}
