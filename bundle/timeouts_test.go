package bundle

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The timeouts cut idle and trickling agents, not legitimate streams:
// a response that keeps flowing and a body that keeps up with the
// minimum rate outlive every injected timeout here.

func TestTimeoutsSpareFlowingStreams(t *testing.T) {
	short := 150 * time.Millisecond
	f := newServedFixture(t, Timeouts{ReadHeader: short, Idle: short, BodyGrace: short, MinBodyRate: 1000, TunnelIdle: 3 * short, WriteStall: short})
	tests := map[string]struct {
		head string
		body func(w io.Writer) // nil: none
	}{
		// The upstream streams its answer for longer than every timeout.
		"long response": {head: "GET https://open.example.test/stream HTTP/1.1\r\nHost: open.example.test\r\n"},
		// The agent uploads at twice the minimum rate, well past the grace.
		"steady upload": {head: "POST https://open.example.test/up HTTP/1.1\r\nHost: open.example.test\r\nContent-Length: 2000\r\n",
			body: func(w io.Writer) {
				for i := 0; i < 20; i++ {
					w.Write([]byte(strings.Repeat("x", 100)))
					time.Sleep(50 * time.Millisecond)
				}
			}},
	}
	f.tlsUp.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		for i := 0; i < 10; i++ {
			fmt.Fprintf(w, "%d.", i)
			w.(http.Flusher).Flush()
			time.Sleep(short / 2)
		}
		fmt.Fprintf(w, "read %d", n)
	})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := f.connect(t, "open.example.test:443", true)
			head := strings.Replace(tc.head, "https://open.example.test", "", 1)
			io.WriteString(c, head+"\r\n")
			if tc.body != nil {
				tc.body(c)
			}
			c.SetReadDeadline(time.Now().Add(wait))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(b), "0.1.2.3.4.5.6.7.8.9.read") {
				t.Fatalf("cut: %d %q %v", resp.StatusCode, b, err)
			}
		})
	}
}
