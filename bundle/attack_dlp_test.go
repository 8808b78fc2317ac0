package bundle

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// The DLP channels of issue 11: each test sends a request that carries
// the route token (canary) the way an upstream would read it back, and
// asserts that the agent got 403 "blocked:" and the upstream saw nothing.

const leakReason = "request carries the value of secret API_TOKEN"

func TestAttackDLPPercentEncodedPath(t *testing.T) {
	tests := map[string]string{
		"one byte escaped":    "/x/%63" + canary[1:],
		"every byte, upper":   "/x/" + pctAll(canary, false),
		"every byte, lower":   "/x/" + pctAll(canary, true),
		"double encoded":      "/x/%2563" + canary[1:],
		"double encoded, mix": "/x/%25" + fmt.Sprintf("%x", canary[0]) + "%25" + fmt.Sprintf("%X", canary[1]) + canary[2:],
	}
	for name, path := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "GET", "https://open.example.test"+path, nil), leakReason)
		})
	}
}

func TestAttackDLPPercentEncodedQuery(t *testing.T) {
	tests := map[string]string{
		"one byte escaped": "t=%63" + canary[1:],
		"every byte":       "t=" + pctAll(canary, true),
		"double encoded":   "t=%2563" + canary[1:],
		"in the key":       pctAll(canary, false) + "=1",
	}
	for name, q := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "GET", "https://open.example.test/x?"+q, nil), leakReason)
		})
	}
}

func TestAttackDLPGzipBody(t *testing.T) {
	f := newProxyFixture(t)
	body := gzipped(t, []byte(`{"note":"`+canary+`"}`))
	f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", body, "Content-Encoding", "gzip"), leakReason)
}

func TestAttackDLPDeflateBody(t *testing.T) {
	plain := []byte("token " + canary)
	tests := map[string]struct {
		body     []byte
		encoding string
	}{
		"zlib deflate":     {zlibbed(t, plain), "deflate"},
		"raw deflate":      {rawDeflated(t, plain), "deflate"},
		"gzip then zlib":   {zlibbed(t, gzipped(t, plain)), "gzip, deflate"},
		"two headers":      {zlibbed(t, gzipped(t, plain)), "gzip\x00deflate"},
		"upper-case token": {gzipped(t, plain), "GZIP"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			r := newReq(t, "POST", "https://open.example.test/upload", tc.body)
			for _, e := range strings.Split(tc.encoding, "\x00") {
				r.Header.Add("Content-Encoding", e)
			}
			f.sendLeak(t, r, leakReason)
		})
	}
}

func TestAttackDLPBase64Offset1(t *testing.T) {
	for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.RawURLEncoding} {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", []byte("data="+b64At(enc, "x"))), leakReason)
		})
	}
}

func TestAttackDLPBase64Offset2(t *testing.T) {
	for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.RawURLEncoding} {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "GET", "https://open.example.test/x", nil, "X-Data", b64At(enc, "xy")), leakReason)
		})
	}
}

func TestAttackDLPLineWrappedBase64(t *testing.T) {
	for name, prefix := range map[string]string{"offset 0": "", "offset 1": "a", "offset 2": "ab"} {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			enc := b64At(base64.StdEncoding, prefix)
			var wrapped strings.Builder
			for i := 0; i < len(enc); i += 6 {
				wrapped.WriteString(enc[i:min(i+6, len(enc))] + "\r\n ")
			}
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", []byte(wrapped.String())), leakReason)
		})
	}
}

func TestAttackDLPJSONEscaped(t *testing.T) {
	var all strings.Builder
	for i := 0; i < len(canary); i++ {
		fmt.Fprintf(&all, `\u%04X`, canary[i])
	}
	tests := map[string]string{
		"one escape":   `{"k":"\u0063` + canary[1:] + `"}`,
		"every byte":   `{"k":"` + all.String() + `"}`,
		"solidus form": `{"k":"` + strings.Replace(canary, "-", `\u002d`, 1) + `"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", []byte(body), "Content-Type", "application/json"), leakReason)
		})
	}
}

func TestAttackDLPPercentEncodedFormBody(t *testing.T) {
	tests := map[string]string{
		"one escape":       "a=1&k=%63" + canary[1:],
		"every byte":       "k=" + pctAll(canary, false),
		"plus and escapes": "k=x+" + pctAll(canary[:3], true) + canary[3:],
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/form", []byte(body),
				"Content-Type", "application/x-www-form-urlencoded"), leakReason)
		})
	}
}

func TestAttackDLPSecretAsHeaderName(t *testing.T) {
	f := newProxyFixture(t)
	r := newReq(t, "GET", "https://open.example.test/x", nil)
	r.Header[canary] = []string{"1"}
	f.sendLeak(t, r, leakReason)
}

func TestAttackDLPSecretAsMethod(t *testing.T) {
	f := newProxyFixture(t)
	f.sendLeak(t, newReq(t, canary, "https://open.example.test/x", nil), leakReason)
}

func TestAttackDLPUnsupportedContentEncoding(t *testing.T) {
	for _, enc := range []string{"br", "zstd", "compress", "x-made-up", "gzip, br"} {
		t.Run(enc, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", []byte("\x8b\x02\x80opaque"),
				"Content-Encoding", enc), "request body has Content-Encoding")
		})
	}
}

// A gzip body that inflates past what can be inspected is refused, not
// passed unread.
func TestAttackDLPGzipBomb(t *testing.T) {
	f := newProxyFixture(t)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < (maxInspectBody>>20)+2; i++ {
		zw.Write(zeros)
	}
	zw.Close()
	f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", buf.Bytes(), "Content-Encoding", "gzip"),
		"request body inflates past")
}

// trailerUpstream is an HTTP/2 TLS upstream that records the trailers of
// each request it serves.
type trailerUpstream struct {
	srv      *httptest.Server
	mu       sync.Mutex
	trailers []http.Header
}

func TestAttackDLPTrailersReachUpstream(t *testing.T) {
	upCA := newTestCA(t, "upstream test CA")
	instCA := newTestCA(t, "instance test CA")
	up := &trailerUpstream{}
	up.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		up.mu.Lock()
		up.trailers = append(up.trailers, r.Trailer.Clone())
		up.mu.Unlock()
		io.WriteString(w, r.Proto)
	}))
	up.srv.EnableHTTP2 = true
	up.srv.TLS = &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return upCA.ca.Leaf(hi.ServerName)
	}}
	up.srv.StartTLS()
	t.Cleanup(up.srv.Close)

	b, err := New(Options{
		Instance: plan.Instance{Slug: "t1", Bundle: plan.Bundle{
			Proxy:           plan.Proxy{Listen: "127.0.0.1:0", Routes: []plan.Route{{Host: "h2.example.test", Ports: []int{443}, Intercept: true, DLP: DLPBlock}}},
			SecretsFromHost: []string{"API_TOKEN"},
		}},
		CA:      instCA.ca,
		Getenv:  func(k string) string { return map[string]string{"API_TOKEN": canary}[k] },
		Log:     io.Discard,
		Dial:    mapDial(map[string]string{"h2.example.test:443": up.srv.Listener.Addr().String()}),
		RootCAs: upCA.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	px := httptest.NewServer(b.Proxy)
	t.Cleanup(px.Close)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(instCA.pem)
	pu, _ := url.Parse(px.URL)
	tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)

	// A chunked body with trailers, whose values are known only once the
	// body is read: a trailer is dropped whatever it holds.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "https://h2.example.test/upload", pr)
	req.Trailer = http.Header{"X-Leak": nil, "X-Other": nil}
	go func() {
		io.WriteString(pw, "harmless body")
		req.Trailer.Set("X-Leak", canary)
		req.Trailer.Set("X-Other", "anything")
		pw.Close()
	}()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "HTTP/2.0" {
		t.Fatalf("got %d %q, want 200 from an HTTP/2 upstream", resp.StatusCode, body)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.trailers) != 1 || len(up.trailers[0]) != 0 {
		t.Fatalf("upstream saw trailers %v, want none", up.trailers)
	}
}

// stalledUpload opens an intercepted tunnel through the proxy at addr,
// starts a POST whose body never finishes, and returns the connection.
func stalledUpload(t *testing.T, addr string, roots *x509.CertPool) *tls.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return nil
	}
	fmt.Fprintf(c, "CONNECT open.example.test:443 HTTP/1.1\r\nHost: open.example.test:443\r\n\r\n")
	buf := make([]byte, len("HTTP/1.1 200 Connection established\r\n\r\n"))
	if _, err := io.ReadFull(c, buf); err != nil || !bytes.HasPrefix(buf, []byte("HTTP/1.1 200")) {
		t.Errorf("CONNECT: %q %v", buf, err)
		c.Close()
		return nil
	}
	tc := tls.Client(c, &tls.Config{ServerName: "open.example.test", RootCAs: roots})
	fmt.Fprintf(tc, "POST /upload HTTP/1.1\r\nHost: open.example.test\r\nContent-Length: %d\r\n\r\n", maxInspectBody)
	tc.Write(bytes.Repeat([]byte("a"), 64<<10))
	return tc
}

// Concurrent uploads that stall mid-body pinned one body buffer each (149
// MiB in the issue). Only maxInspectBodies are read at once; the others
// are refused once they have waited inspectWait.
func TestAttackDLPStalledConcurrentUploads(t *testing.T) {
	upCA := newTestCA(t, "upstream test CA")
	instCA := newTestCA(t, "instance test CA")
	up := newUpstream(t, upCA, nil)
	b, err := New(Options{
		Instance: testInstance(),
		CA:       instCA.ca,
		Getenv:   func(k string) string { return map[string]string{"API_TOKEN": canary}[k] },
		Log:      io.Discard,
		Dial:     mapDial(map[string]string{"open.example.test:443": up.addr()}),
		RootCAs:  upCA.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	px := httptest.NewServer(b.Proxy)
	t.Cleanup(px.Close)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(instCA.pem)

	const n = 3 * maxInspectBodies
	answers := make(chan string, n)
	var mu sync.Mutex
	var conns []*tls.Conn
	for i := 0; i < n; i++ {
		go func() {
			tc := stalledUpload(t, strings.TrimPrefix(px.URL, "http://"), roots)
			if tc == nil {
				answers <- ""
				return
			}
			mu.Lock()
			conns = append(conns, tc)
			mu.Unlock()
			tc.SetReadDeadline(time.Now().Add(inspectWait + 10*time.Second))
			b, _ := io.ReadAll(tc)
			answers <- string(b)
		}()
	}
	refused := 0
	for i := 0; i < n && refused < n-maxInspectBodies; i++ {
		if a := <-answers; strings.HasPrefix(a, "HTTP/1.1 403") && strings.Contains(a, "blocked: too many requests being inspected") {
			refused++
		}
	}
	slots := b.Proxy.inspect
	if refused != n-maxInspectBodies {
		t.Errorf("%d of %d stalled uploads were refused, want %d (cap %d)", refused, n, n-maxInspectBodies, maxInspectBodies)
	}
	if got := slots.active.Load(); got != maxInspectBodies {
		t.Errorf("%d bodies being read, want the cap %d", got, maxInspectBodies)
	}
	if p := slots.peak.Load(); p > maxInspectBodies {
		t.Errorf("%d bodies were read at once, over the cap %d", p, maxInspectBodies)
	}
	if h := slots.peakHeld.Load(); h > maxInspectBodies*maxInspectBody {
		t.Errorf("%d body bytes were held at once, over cap × maxInspectBody", h)
	}
	t.Logf("peak: %d bodies, %d KiB held", slots.peak.Load(), slots.peakHeld.Load()>>10)
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	// Once the stalled uploads are gone, their slots are free again.
	deadline := time.Now().Add(10 * time.Second)
	for slots.active.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := slots.active.Load(); got != 0 {
		t.Errorf("%d slots still held after the uploads ended", got)
	}
}

// On a redact route, a secret that cannot be cut out in place (inside a
// compressed body, inside a longer base64 blob, behind escapes, as a
// header name or the method) is not forwarded: the request is denied,
// with a reason that says why.
func TestAttackDLPRedactDeniesWhatItCannotCut(t *testing.T) {
	const u = "https://redact.example.test/upload"
	tests := map[string]func(t *testing.T) *http.Request{
		"gzip body": func(t *testing.T) *http.Request {
			return newReq(t, "POST", u, gzipped(t, []byte("k="+canary)), "Content-Encoding", "gzip")
		},
		"base64 offset 1": func(t *testing.T) *http.Request {
			return newReq(t, "POST", u, []byte(b64At(base64.StdEncoding, "x")))
		},
		"json escaped": func(t *testing.T) *http.Request {
			return newReq(t, "POST", u, []byte(`{"k":"\u0063`+canary[1:]+`"}`))
		},
		"percent-encoded query": func(t *testing.T) *http.Request {
			return newReq(t, "GET", u+"?t=%63"+canary[1:], nil)
		},
		"header name": func(t *testing.T) *http.Request {
			r := newReq(t, "GET", u, nil)
			r.Header[canary] = []string{"1"}
			return r
		},
	}
	for name, mk := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, mk(t), "request carries the value of secret API_TOKEN in the ")
			if !strings.Contains(f.log.String(), "where it cannot be redacted in place") {
				t.Errorf("reason does not say why:\n%s", f.log.String())
			}
		})
	}
}

// Multipart form parts are read raw and as their Content-Transfer-Encoding
// (base64 line-wrapped at any alignment, quoted-printable with soft line
// breaks) decodes them.
func TestAttackDLPMultipartForm(t *testing.T) {
	file := "some file content, then the token: " + canary + " and more"
	b64 := base64.StdEncoding.EncodeToString([]byte(file))
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 76 {
		wrapped.WriteString(b64[i:min(i+76, len(b64))] + "\r\n")
	}
	qp := "token: =" + fmt.Sprintf("%02X", canary[0]) + canary[1:6] + "=\r\n" + canary[6:]
	tests := map[string]struct{ cte, content string }{
		"base64 part":           {"base64", wrapped.String()},
		"quoted-printable part": {"quoted-printable", qp},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			body := "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n" +
				"Content-Transfer-Encoding: " + tc.cte + "\r\n\r\n" + tc.content + "\r\n--XyZ--\r\n"
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", []byte(body),
				"Content-Type", "multipart/form-data; boundary=XyZ"), leakReason)
		})
	}
}
