package bundle

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Helpers of the DLP attack tests (attack_dlp_test.go).

// sendLeak sends req through the fixture's proxy and asserts the secure
// outcome: 403 "blocked: <reason>..." and an upstream that saw nothing.
func (f *proxyFixture) sendLeak(t *testing.T, req *http.Request, reason string) {
	t.Helper()
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(string(b), "blocked: "+reason) {
		t.Errorf("got %d %q, want 403 %q...", resp.StatusCode, b, "blocked: "+reason)
	}
	if got := f.tlsUp.requests(); len(got) != 0 {
		t.Errorf("upstream saw %+v", got)
	}
}

func newReq(t *testing.T, method, rawURL string, body []byte, header ...string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// pctAll percent-encodes every byte of s, with lower-case hex when lower.
func pctAll(s string, lower bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if lower {
			fmt.Fprintf(&b, "%%%02x", s[i])
		} else {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
	}
	return b.String()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// zlibbed is a "deflate" Content-Encoding body as RFC 9110 defines it:
// the zlib format.
func zlibbed(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// rawDeflated is what some clients send as "deflate": raw RFC 1951.
func rawDeflated(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// b64At returns the encoding of prefix+canary+"!" in enc.
func b64At(enc *base64.Encoding, prefix string) string {
	return enc.EncodeToString([]byte(prefix + canary + "!"))
}
