package bundle

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The agent holds a request of its own and tries to release it: every
// method on every path an operator API might answer, on every port the
// bundle listens on for it, directly and through the proxy, with the
// real ID (which the read-only
// supervise list may show it). Nothing it sends decides: the hold ends
// only by its timeout. (Inside a tunnel to a route, every request is
// checked, held or forwarded upstream; none is read by the bundle as an
// instruction.)
func TestAttackSuperviseAgentCannotDecide(t *testing.T) {
	f := newServedFixture(t, Timeouts{})
	const holdFor = 5 * time.Second
	f.b.Proxy.holds.timeout = holdFor
	c := f.connect(t, "held.example.test:443", true)
	io.WriteString(c, "GET /elsewhere HTTP/1.1\r\nHost: held.example.test\r\n\r\n")
	answer := make(chan string, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(holdFor + wait))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answer <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		answer <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	start := time.Now()
	id := waitPending(t, f.b.Proxy, 1)[0].ID

	paths := []string{
		"/held/" + id + "/approve", "/held/" + id + "/deny", "/held/" + id, "/held",
		"/requests/" + id + "/approve", "/requests/" + id, "/approve/" + id, "/approve?id=" + id,
		"/requests?approve=" + id, "/" + id,
	}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	send := func(conn net.Conn, method, target, host string) {
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", method, target, host)
		conn.SetReadDeadline(time.Now().Add(wait))
		if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
			resp.Body.Close()
		}
	}
	tried := 0
	for _, daemon := range []string{"proxy", "git-gate", "supervise"} {
		for _, m := range methods {
			for _, p := range paths {
				conn := dialT(t, f.addrs[daemon])
				send(conn, m, p, f.addrs[daemon])
				conn.Close()
				// The same, as a proxy request to the bundle's own
				// address.
				conn = dialT(t, f.addrs["proxy"])
				send(conn, m, "http://"+f.addrs[daemon]+p, f.addrs[daemon])
				conn.Close()
				tried += 2
			}
		}
	}
	if time.Since(start) >= holdFor {
		t.Fatalf("the attack took %v, longer than the hold: rerun on a less loaded machine", time.Since(start))
	}
	if got := f.b.Proxy.Pending(); len(got) != 1 || got[0].ID != id {
		t.Fatalf("after %d tries from the agent's side, held: %+v", tried, got)
	}
	got := <-answer
	if got != fmt.Sprintf("403 blocked: not approved within %s\n", holdFor) {
		t.Fatalf("the held request ended with %q, want the timeout", got)
	}
	if ups := f.tlsUp.requests(); len(ups) != 0 {
		t.Fatalf("upstream saw %+v", ups)
	}
	if strings.Contains(f.log.String(), "approved by operator") {
		t.Fatalf("log says approved:\n%s", f.log.String())
	}
}

// A hold may outlast TunnelIdle: the tunnel it waits in is kept in use,
// so the hold ends by its own timeout (or decision), not as a hang-up.
func TestHoldOutlivesTunnelIdle(t *testing.T) {
	f := newServedFixture(t, Timeouts{TunnelIdle: 300 * time.Millisecond})
	f.b.Proxy.holds.timeout = 2 * time.Second
	c := f.connect(t, "held.example.test:443", true)
	io.WriteString(c, "GET /elsewhere HTTP/1.1\r\nHost: held.example.test\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the held request's tunnel was closed: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if got := fmt.Sprintf("%d %s", resp.StatusCode, b); got != "403 blocked: not approved within 2s\n" {
		t.Fatalf("got %q", got)
	}
}
