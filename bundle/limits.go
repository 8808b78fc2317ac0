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
