package bundle

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// Protocol upgrades. A 101 turns a checked HTTP request into a raw byte
// stream both ways, so the bundle refuses every upgrade (any Upgrade
// header, a Connection "upgrade" token, HTTP2-Settings: websocket, h2c
// or anything else) with 403 "blocked:" unless the route opts in with
// plan.Route.Websocket. An opted-in route accepts only a WebSocket
// handshake (GET, Upgrade: websocket and nothing else, no body), checked
// like any request (matches, DLP, credential injection). On an
// intercepted route the bundle then relays the socket itself:
//   - Sec-WebSocket-Extensions is removed from the handshake (and from
//     the upstream's answer), so no extension such as permessage-deflate
//     is negotiated and every frame the agent sends is readable; a frame
//     with a reserved (RSV) bit set is a protocol error.
//   - agent to upstream: each frame is read (RFC 6455: masking,
//     fragments reassembled, control frames between them), each text and
//     binary message, up to maxWebSocketMessage, and each control
//     frame's payload is scanned by DLP before its frames are forwarded
//     as they came. A secret closes the socket: the agent gets a close
//     frame 1008 (policy violation), both sides are closed and a deny
//     decision names the secret. Whatever the route's dlp action, a frame
//     is never held or redacted, only refused. A frame the reader cannot
//     parse (unmasked, bad opcode, reserved bits) closes with 1002, an
//     over-long message with 1009. Unfinished messages across all
//     sockets hold at most maxWebSocketBuffered bytes (wsBudget); a
//     frame that would pass that closes its socket with 1013.
//   - upstream to agent: passed through frame by frame, unread.
//   - a socket on which the agent sends nothing (not even a ping) for
//     webSocketIdleTimeout is closed.
//
// A route that is not intercepted (a blind route of an older plan) gets
// the upgraded stream spliced as its CONNECT tunnel would be.

// hasToken reports whether a comma-separated header of h holds token
// (case-insensitive).
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// upgradeRequested reports whether r asks, in any way, to switch
// protocols.
func upgradeRequested(r *http.Request) bool {
	return len(r.Header.Values("Upgrade")) > 0 || hasToken(r.Header, "Connection", "upgrade") ||
		len(r.Header.Values("HTTP2-Settings")) > 0
}

// checkUpgrade says why an upgrade request r is refused on route, or ""
// when it is a WebSocket handshake the route allows.
func checkUpgrade(r *http.Request, route *plan.Route) string {
	if !route.Websocket {
		return fmt.Sprintf("route %s does not allow protocol upgrades (websocket: true allows WebSockets)", route.Host)
	}
	up := r.Header.Values("Upgrade")
	ok := len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket") &&
		hasToken(r.Header, "Connection", "upgrade") && len(r.Header.Values("HTTP2-Settings")) == 0 &&
		r.Method == http.MethodGet && r.ContentLength <= 0 && len(r.TransferEncoding) == 0
	if !ok {
		return fmt.Sprintf("route %s allows only a WebSocket upgrade (GET, Upgrade: websocket, no body)", route.Host)
	}
	return ""
}

// hopHeaders are not forwarded on a WebSocket handshake; the bundle sets
// Connection and Upgrade itself.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Sec-Websocket-Extensions"}

// forwardWebSocket sends the checked handshake r upstream and, on a 101,
// relays the socket: agent frames through DLP, upstream frames as they
// come.
func (p *Proxy) forwardWebSocket(w http.ResponseWriter, r *http.Request, authz string, d Decision) {
	out := r.Clone(r.Context())
	out.RequestURI, out.Host, out.Body, out.ContentLength = "", "", http.NoBody, 0
	for _, h := range r.Header.Values("Connection") {
		for _, name := range strings.Split(h, ",") {
			out.Header.Del(strings.TrimSpace(name))
		}
	}
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Header.Set("Connection", "Upgrade")
	out.Header.Set("Upgrade", "websocket")
	if authz != "" {
		out.Header.Set("Authorization", authz)
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		d.Verdict, d.Reason = VerdictError, "upstream: "+err.Error()
		p.record(d)
		http.Error(w, "bottleplan proxy: upstream failed", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		d.Reason = fmt.Sprintf("websocket handshake answered %d", resp.StatusCode)
		p.record(d)
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return
	}
	upConn, ok := resp.Body.(io.ReadWriteCloser)
	if !ok || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		d.Verdict, d.Reason = VerdictError, "upstream switched to another protocol than websocket"
		p.record(d)
		http.Error(w, "bottleplan proxy: upstream failed", http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "bottleplan proxy: cannot hijack connection", http.StatusInternalServerError)
		return
	}
	agent, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer agent.Close()
	// The server's deadlines were for one request; the socket's reads
	// get webSocketIdleTimeout instead (scanFrames), its writes none.
	agent.SetDeadline(time.Time{})
	resp.Header.Del("Sec-Websocket-Extensions")
	io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Write(brw)
	io.WriteString(brw, "\r\n")
	if brw.Flush() != nil {
		return
	}
	d.Reason = "websocket"
	p.record(d)
	p.relayWebSocket(agent, brw.Reader, upConn, d)
}

// relayWebSocket runs both directions until either ends or the agent's
// side is refused.
func (p *Proxy) relayWebSocket(agent net.Conn, agentR *bufio.Reader, up io.ReadWriteCloser, d Decision) {
	var refused atomic.Bool
	clean := make(chan bool, 1)
	go func() {
		ok := passFrames(agent, bufio.NewReader(up))
		if !refused.Load() {
			// The upstream ended: end the agent's side too, which also
			// stops scanFrames.
			agent.Close()
		}
		clean <- ok
	}()
	err := p.scanFrames(agentR, up, func() { agent.SetReadDeadline(time.Now().Add(webSocketIdleTimeout)) })
	var ws *wsError
	isWS := errors.As(err, &ws)
	refused.Store(isWS)
	up.Close()
	// Once passFrames is done nothing else writes to the agent; a close
	// frame after half an upstream frame would be read as its payload.
	if atFrameEdge := <-clean; isWS {
		d.Verdict, d.Reason = VerdictDeny, "websocket: "+ws.reason
		p.record(d)
		if atFrameEdge {
			agent.Write(closeFrame(ws.code, ws.reason))
		}
	}
	agent.Close()
}

// wsError ends a socket with a close code; reason is safe to log (it
// names secrets, never their values).
type wsError struct {
	code   uint16
	reason string
}

func (e *wsError) Error() string { return e.reason }

// WebSocket close codes the bundle sends (RFC 6455 section 7.4.1).
const (
	wsProtocolError   = 1002
	wsPolicyViolation = 1008
	wsMessageTooBig   = 1009
	wsTryAgainLater   = 1013
)

// closeFrame is an unmasked (server) close frame.
func closeFrame(code uint16, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	b := []byte{0x88, byte(2 + len(reason)), byte(code >> 8), byte(code)}
	return append(b, reason...)
}

// scanFrames reads the agent's frames from r, scans every message and
// control payload, and writes the frames of each clean one to up as they
// came. renew is called before each frame is read (it moves the idle
// deadline). It returns a *wsError when the agent is refused, another
// error when either side ends.
func (p *Proxy) scanFrames(r *bufio.Reader, up io.Writer, renew func()) error {
	var msg, pending []byte
	inMessage := false
	var held int64 // bytes of p.wsBudget this socket holds
	defer func() { p.wsBudget.give(held) }()
	reserve := func(n int) error {
		if !p.wsBudget.take(int64(n)) {
			return &wsError{wsTryAgainLater, fmt.Sprintf("too many WebSocket message bytes being inspected (%d MiB at once); retry later", maxWebSocketBuffered>>20)}
		}
		held += int64(n)
		return nil
	}
	for {
		renew()
		f, err := readClientFrame(r, maxWebSocketMessage-len(msg), reserve)
		if err != nil {
			return err
		}
		if f.opcode >= 8 {
			if found := p.secrets.scanBytes(f.payload); len(found) > 0 {
				return &wsError{wsPolicyViolation, "control frame carries the value of secret " + strings.Join(found, ", ")}
			}
			if _, err := up.Write(f.raw); err != nil {
				return err
			}
			continue
		}
		if (f.opcode == 0) != inMessage {
			return &wsError{wsProtocolError, "continuation frame out of place"}
		}
		inMessage = !f.fin
		msg = append(msg, f.payload...)
		pending = append(pending, f.raw...)
		if !f.fin {
			continue
		}
		if found := p.secrets.scanBytes(msg); len(found) > 0 {
			return &wsError{wsPolicyViolation, "message carries the value of secret " + strings.Join(found, ", ")}
		}
		if _, err := up.Write(pending); err != nil {
			return err
		}
		msg, pending = msg[:0], pending[:0]
		p.wsBudget.give(held)
		held = 0
	}
}

// wsFrame is one frame from the agent: its payload unmasked, and its
// bytes as they came.
type wsFrame struct {
	fin     bool
	opcode  byte
	payload []byte
	raw     []byte
}

// readClientFrame reads one client frame of at most max payload bytes
// (RFC 6455 section 5.2): masked, no reserved bits (no extension is
// negotiated), a known opcode, control frames unfragmented and at most
// 125 bytes. A data frame's length is passed to reserve before its
// payload is read.
func readClientFrame(r *bufio.Reader, max int, reserve func(int) error) (wsFrame, error) {
	var f wsFrame
	var h [14]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		return f, err
	}
	f.fin, f.opcode = h[0]&0x80 != 0, h[0]&0x0f
	switch {
	case h[0]&0x70 != 0:
		return f, &wsError{wsProtocolError, "frame has reserved bits set (no extension was negotiated)"}
	case f.opcode > 2 && f.opcode < 8 || f.opcode > 10:
		return f, &wsError{wsProtocolError, fmt.Sprintf("unknown opcode %d", f.opcode)}
	case h[1]&0x80 == 0:
		return f, &wsError{wsProtocolError, "frame from the client is not masked"}
	}
	n := uint64(h[1] & 0x7f)
	hl := 2
	switch n {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	if _, err := io.ReadFull(r, h[2:hl+4]); err != nil {
		return f, err
	}
	switch n {
	case 126:
		n = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		n = binary.BigEndian.Uint64(h[2:10])
	}
	if f.opcode >= 8 && (!f.fin || n > 125) {
		return f, &wsError{wsProtocolError, "control frame fragmented or over 125 bytes"}
	}
	if n > uint64(max) {
		return f, &wsError{wsMessageTooBig, fmt.Sprintf("message over the %d bytes that can be inspected", maxWebSocketMessage)}
	}
	if f.opcode < 8 && n > 0 {
		if err := reserve(int(n)); err != nil {
			return f, err
		}
	}
	f.raw = make([]byte, hl+4+int(n))
	copy(f.raw, h[:hl+4])
	if _, err := io.ReadFull(r, f.raw[hl+4:]); err != nil {
		return f, err
	}
	key := h[hl : hl+4]
	f.payload = make([]byte, n)
	for i, c := range f.raw[hl+4:] {
		f.payload[i] = c ^ key[i%4]
	}
	return f, nil
}

// byteBudget bounds bytes held across goroutines.
type byteBudget struct {
	used atomic.Int64
	max  int64
}

// take reserves n bytes, or reports false when that would pass max.
func (b *byteBudget) take(n int64) bool {
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *byteBudget) give(n int64) { b.used.Add(-n) }

// passFrames copies the upstream's frames to the agent without reading
// their payload, and reports whether it stopped between two frames.
func passFrames(agent io.Writer, up *bufio.Reader) bool {
	var h [14]byte
	for {
		if _, err := io.ReadFull(up, h[:2]); err != nil {
			return true
		}
		n := uint64(h[1] & 0x7f)
		hl := 2
		switch n {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if h[1]&0x80 != 0 {
			hl += 4
		}
		if _, err := io.ReadFull(up, h[2:hl]); err != nil {
			return false
		}
		switch n {
		case 126:
			n = uint64(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			n = binary.BigEndian.Uint64(h[2:10])
		}
		_, err := agent.Write(h[:hl])
		if err == nil {
			_, err = io.CopyN(agent, up, int64(n&(1<<63-1)))
		}
		if err != nil {
			return false
		}
	}
}
