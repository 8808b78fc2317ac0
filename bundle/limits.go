package bundle

import "time"

// Every bound the bundle puts on what an agent can make it hold, in one
// place. The agent is the adversary: each of these caps memory, disk or
// time that a prompt-injected agent could otherwise take from the host
// through its only network peer. docs/limits.md lists them with the
// container limits the executor sets.
const (
	// maxInspectBody is the largest request body an intercepted route
	// reads to inspect (DLP); a larger one is refused, never passed
	// unread.
	maxInspectBody = 16 << 20
	// maxWebSocketMessage is the largest WebSocket message (all its
	// fragments) the agent may send on an opted-in route: each is held
	// whole to be scanned before it is forwarded, and a longer one closes
	// the socket with 1009.
	maxWebSocketMessage = 1 << 20
	// maxWebSocketBuffered bounds the bytes of unfinished WebSocket
	// messages held across all sockets at once (each is held about twice:
	// payload and frames as they came), as inspectSlots bounds bodies; a
	// frame that would pass it closes its socket with 1013 (try again
	// later).
	maxWebSocketBuffered = 16 << 20
	// maxAgentConns bounds the connections each daemon serves at once
	// (connlimit.go); a connection past it waits in the listen queue
	// until another ends.
	maxAgentConns = 1024
)

// Decision log and supervise list (decision.go).
const (
	// maxDecisionField is the longest a string field of a decision
	// (host, method, path, route, reason) is logged or kept, in bytes;
	// a longer one is cut and marked "…[+N bytes]".
	maxDecisionField = 512
	// maxHeld is how many held requests the supervise list keeps; only a
	// newer held request pushes the oldest out, never a denial.
	maxHeld = 1000
	// maxDenied is how many distinct denials (by aggregation key) the
	// supervise list keeps, least recently seen dropped first.
	maxDenied = 1000
	// maxDenialKeys bounds the refusals the log aggregates at once; a
	// refusal with a new key when the table is full is only counted, in
	// one overflow summary line per window.
	maxDenialKeys = 1024
	// denialWindow is how long repeats of a logged refusal are counted
	// before one summary line (count, first, last) is written.
	denialWindow = time.Minute
)

// Requests held for supervision (hold.go).
const (
	// maxHeldRequests is how many requests may be held open for the
	// operator at once; one more is refused at once with 403 (never
	// queued), so an agent cannot pin goroutines, connections and
	// bodies by the thousand.
	maxHeldRequests = 16
	// maxHeldBodies bounds the bytes of the bodies of all held requests
	// together. A held request has given back its inspection slot and
	// its decoded views, so this adds to the inspection slots' bound
	// (maxScanViews): 448 MiB + 32 MiB, under the bundle container's
	// GOMEMLIMIT of 560 MiB (executor/docker/limits.go).
	maxHeldBodies = 32 << 20
)

// The agent's questions and access requests over MCP (mcp.go, store.go)
// and runtime grants (grants.go).
const (
	// maxAgentAsks is how many access requests and questions may wait
	// for the operator at once (their own bound, beside
	// maxHeldRequests); one more is refused at once with a tool error.
	maxAgentAsks = 16
	// maxAskText is the longest reason or question the agent may send,
	// in bytes; a longer one is refused (not cut: the operator must read
	// what the agent meant, whole).
	maxAskText = 2048
	// maxAskHost is the longest host[:port] request_access takes.
	maxAskHost = 260
	// maxAnswerText is the longest answer or reason the operator may
	// send back to the agent, in bytes.
	maxAnswerText = 8 << 10
	// maxGrants is how many runtime grants a bundle keeps at once.
	maxGrants = 64
	// maxMCPBody bounds one JSON-RPC message the agent posts to /mcp.
	maxMCPBody = 64 << 10
)

// Leaf certificates (ca.go).
const (
	// maxLeafCerts is how many minted leaf certificates the CA keeps,
	// least recently used evicted first (re-minted on next use).
	maxLeafCerts = 1024
)

// Upstream transport (proxy.go newTransport), shared by the proxy and
// the git gate.
const (
	// upstreamMaxIdleConns bounds idle upstream connections in total.
	upstreamMaxIdleConns = 256
	// upstreamMaxIdlePerHost keeps enough idle connections per upstream
	// host that concurrent keep-alive clients reuse them instead of
	// making a new TLS handshake each (Go's default is 2).
	upstreamMaxIdlePerHost = 64
	// upstreamMaxConnsPerHost bounds the connections open to one upstream
	// host at once, so the agent cannot make the bundle open thousands.
	upstreamMaxConnsPerHost = 256
)

// Timeouts of the servers the agent talks to (timeouts.go); the
// defaults of Timeouts.
const (
	// readHeaderTimeout bounds how long a request's header may take to
	// arrive.
	readHeaderTimeout = 30 * time.Second
	// idleTimeout closes a keep-alive connection with no request for
	// this long (outer servers and the server inside each intercepted
	// tunnel).
	idleTimeout = 2 * time.Minute
	// bodyGrace is how long a request body may take before the minimum
	// rate applies: a body must have arrived at minBodyRate on average
	// after this grace, or the connection is cut.
	bodyGrace = 30 * time.Second
	// minBodyRate is the slowest average rate, in bytes per second, a
	// request body may arrive at (after bodyGrace).
	minBodyRate = 1024
	// tunnelIdleTimeout closes a CONNECT tunnel (blind or intercepted,
	// WebSockets in it too) with no byte either way for this long.
	tunnelIdleTimeout = 10 * time.Minute
	// writeStallTimeout cuts a connection whose one write to the agent
	// has waited this long: an agent that stops reading a response
	// cannot pin the bundle's goroutines, buffers and upstream
	// connection.
	writeStallTimeout = 2 * time.Minute
)

// DLP inspection (dlp.go, body.go).
const (
	// maxInspectBodies is how many request bodies the proxy reads and
	// inspects at once; with maxInspectBody and maxDecodedBody it bounds
	// the memory stalled or concurrent uploads can pin.
	maxInspectBodies = 4
	// inspectWait is the longest a request body waits for an inspection
	// slot (less if the request ends first) before it is refused with
	// 403 "blocked: too many requests being inspected".
	inspectWait = 2 * time.Second
	// maxDecodedBody is the most a Content-Encoding (gzip, deflate) body
	// may inflate to for DLP to read it; past it the body is refused as
	// a decompression bomb.
	maxDecodedBody = maxInspectBody
	// maxScanViews is the most memory the decoded views of one request
	// (percent-, JSON-, form-decoded, white space stripped; all of its
	// parts together) may take; a request that needs more is refused.
	// Without it one 16 MiB body dense with escapes of both kinds made
	// 19 views and 272 MiB of allocations, and four at once (the
	// inspection slots) could exceed the bundle container's memory.
	// Per slot the bundle holds at most the body, its Content-Encoding
	// decoding, this, and the one decoding step that spent it (two views
	// of at most maxInspectBody): 4 slots * 112 MiB = 448 MiB, under the
	// container's limit (executor/docker/limits.go), which also sets
	// GOMEMLIMIT so the collector keeps the heap there. A 16 MiB JSON
	// body with escapes and white space needs 48 MiB (its unescaped view
	// and both white-space-stripped ones).
	maxScanViews = 48 << 20
)

// WebSockets on opted-in routes (websocket.go).
const (
	// webSocketIdleTimeout closes a WebSocket on which the agent has sent
	// no frame (a ping counts) for this long.
	webSocketIdleTimeout = 10 * time.Minute
)
