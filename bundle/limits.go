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
)

// Timeouts of the servers the agent talks to.
const (
	// readHeaderTimeout bounds how long a request's header may take to
	// arrive.
	readHeaderTimeout = 30 * time.Second
	// webSocketIdleTimeout closes a WebSocket on which the agent has sent
	// no frame (a ping counts) for this long.
	webSocketIdleTimeout = 10 * time.Minute
)
