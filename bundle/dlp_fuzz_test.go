package bundle

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// dlpEncodings are the spellings of a secret the scanner promises to
// find, each placed between a prefix and a suffix the way a sender would
// write it. escape lists the bytes the encoding gives a meaning, which
// are taken out of the surroundings (a "\" before "\u0063" makes it text,
// not an escape, for the upstream too).
var dlpEncodings = []struct {
	name   string
	escape string
	enc    func(pre, secret, suf []byte, n int) []byte
}{
	{"plain", "", func(p, s, q []byte, _ int) []byte { return cat(p, s, q) }},
	{"upper", "", func(p, s, q []byte, _ int) []byte { return cat(p, bytes.ToUpper(s), q) }},
	{"percent every byte", "%", func(p, s, q []byte, n int) []byte { return cat(p, pctSome(s, ^0, n&1 == 0), q) }},
	{"percent some bytes", "%", func(p, s, q []byte, n int) []byte { return cat(p, pctSome(s, n, n&2 == 0), q) }},
	{"percent twice", "%", func(p, s, q []byte, n int) []byte {
		return cat(p, bytes.ReplaceAll(pctSome(s, n|1, true), []byte("%"), []byte("%25")), q)
	}},
	{"query escape", "%+", func(p, s, q []byte, _ int) []byte { return cat(p, []byte(url.QueryEscape(string(s))), q) }},
	{"json \\u", "\\", func(p, s, q []byte, n int) []byte {
		var b bytes.Buffer
		for i, c := range s {
			if n>>(i%30)&1 == 1 || c == '\\' {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
		return cat(p, b.Bytes(), q)
	}},
	{"base64", "", func(p, s, q []byte, _ int) []byte {
		return []byte(base64.StdEncoding.EncodeToString(cat(p, s, q)))
	}},
	{"base64url", "", func(p, s, q []byte, _ int) []byte {
		return []byte(base64.RawURLEncoding.EncodeToString(cat(p, s, q)))
	}},
	{"base64 wrapped", "", func(p, s, q []byte, n int) []byte {
		e := base64.StdEncoding.EncodeToString(cat(p, s, q))
		w := 1 + n%76
		var b strings.Builder
		for i := 0; i < len(e); i += w {
			b.WriteString(e[i:min(i+w, len(e))] + "\r\n")
		}
		return []byte(b.String())
	}},
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// pctSome percent-encodes the bytes of s whose index bit is set in mask,
// and every '%', as an encoder must.
func pctSome(s []byte, mask int, lower bool) []byte {
	var b bytes.Buffer
	for i, c := range s {
		if mask>>(i%30)&1 == 1 || c == '%' {
			if lower {
				fmt.Fprintf(&b, "%%%02x", c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}

// tokenize maps raw fuzz bytes onto printable ASCII without white space,
// the alphabet of the tokens the bundle guards.
func tokenize(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = '!' + c%('~'-'!'+1)
	}
	return out
}

func without(b []byte, chars string) []byte {
	if chars == "" {
		return b
	}
	return bytes.Map(func(r rune) rune {
		if strings.ContainsRune(chars, r) {
			return -1
		}
		return r
	}, b)
}

func FuzzDLP(f *testing.F) {
	f.Add([]byte("canary-7f3a9c1e5b2d4068"), []byte("x"), []byte("!"), uint8(7), 12345)
	f.Add([]byte("abcdefgh"), []byte("ab"), []byte(""), uint8(8), 3)
	f.Add([]byte("%41%42%43%44"), []byte(""), []byte("%"), uint8(2), -1)
	f.Add([]byte(`\u0041\\\\\\`), []byte(`\`), []byte(`\u`), uint8(6), 77)
	f.Add([]byte("+/+/+/+/+/"), []byte("a b"), []byte("=="), uint8(9), 60)
	f.Fuzz(func(t *testing.T, rawSecret, pre, suf []byte, which uint8, n int) {
		if n < 0 {
			n = -n
		}
		secret := tokenize(rawSecret)
		if len(secret) > 64 {
			secret = secret[:64]
		}
		s := newSecretSet([]string{"S"}, func(string) string { return string(secret) })

		// No panic on arbitrary input, in every entry point.
		arbitrary := cat(rawSecret, pre, suf)
		s.scanBytes(arbitrary)
		s.scrub(string(arbitrary))
		r, err := http.NewRequest("POST", "https://h.example.test/p", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.RawQuery = string(pre)
		r.URL.RawPath = "/" + string(suf)
		r.Header.Set("Content-Encoding", []string{"", "gzip", "deflate", "br", "gzip, deflate"}[n%5])
		r.Header.Set("Content-Type", []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"}[n%3])
		r.Header.Set("X-"+fmt.Sprint(n), string(pre))
		s.scan(r, arbitrary)
		if body, err := s.redact(r, arbitrary); err == nil {
			if found, err := s.scan(r, body); err == nil && len(found) > 0 {
				t.Fatalf("redact passed a request that still carries %v", found)
			}
		}

		if len(secret) < minSecretLen {
			return
		}
		// A secret at any offset in any supported encoding is found.
		e := dlpEncodings[int(which)%len(dlpEncodings)]
		msg := e.enc(without(pre, e.escape), secret, without(suf, e.escape), n)
		if got := s.scanBytes(msg); len(got) != 1 || got[0] != "S" {
			t.Fatalf("%s: secret %q not found in %q", e.name, secret, msg)
		}
		// Whatever scrub leaves, the scanner finds nothing in it.
		if got := s.scanBytes([]byte(s.scrub(string(msg)))); len(got) != 0 {
			t.Fatalf("%s: scrub left %v in %q", e.name, got, s.scrub(string(msg)))
		}
	})
}
