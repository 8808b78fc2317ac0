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
)

// Timeouts of the servers the agent talks to.
const (
	// readHeaderTimeout bounds how long a request's header may take to
	// arrive.
	readHeaderTimeout = 30 * time.Second
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
)
