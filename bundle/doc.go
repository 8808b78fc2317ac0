// Package bundle holds the sidecar daemons that run inside a bottle's
// bundle container (`bottleplan-bundle serve`): the egress proxy, the git
// gate and the supervise endpoint. Their config is the plan Instance; the
// bundle is the agent's only network peer, so everything here fails
// closed.
//
// Files, one concept each:
//   - allow.go: the allowlist (hosts, wildcards, ports, paths, methods);
//     pure, table-tested and fuzzed.
//   - proxy.go: the forward proxy (absolute-form HTTP and CONNECT).
//   - intercept.go: TLS interception of the routes the plan marks
//     intercepted (every route the compiler makes) and the per-request
//     checks, DLP and token injection.
//   - path.go: the one normal form of a request path that matches are
//     checked against and the upstream is sent.
//   - websocket.go: protocol upgrades (refused unless a route opts in to
//     WebSockets) and the WebSocket relay whose agent side DLP reads.
//   - dlp.go: what dlp block / supervise / redact do, the secret forms,
//     redaction and scrubbing (docs/dlp.md).
//   - dlp_views.go: what DLP reads of a request (the upstream's view).
//   - dlp_decode.go: the decoders behind those views (percent, JSON,
//     quoted-printable, white space, Content-Encoding).
//   - dlp_match.go: the one-pass multi-pattern matcher (Aho-Corasick).
//   - body.go: reading request bodies to inspect, under a cap on how
//     many at once; trailers dropped.
//   - auth.go: how a token becomes an Authorization header.
//   - ca.go: the instance CA and per-host leaf certificates.
//   - canames.go: the CA's name constraints and the live route hosts
//     and grants, checked before a leaf is minted.
//   - gitgate.go: the git smart-HTTP gate (https upstreams).
//   - gitssh.go: the gate's bridge to ssh upstreams.
//   - items.go: the pending items (held requests, access requests,
//     questions) and the operator API's types.
//   - store.go: the one bounded store of pending items, their random
//     IDs, and how each ends once (decided, timed out, agent gone).
//   - hold.go: requests a "supervise" rule holds open until the
//     operator approves or denies them, or their timeout passes.
//   - mcp.go: the agent's MCP server (/mcp on the supervise listener):
//     held_requests, request_access, ask_operator; ask and wait, never
//     decide.
//   - grants.go: runtime grants, the routes approved access requests
//     add (no auth, DLP block, intercepted).
//   - operator.go: the operator API that decides on items and revokes
//     grants, served only on a unix socket in the bundle container
//     (OperatorSocket), never on a network.
//   - supervise.go: the supervise listener's mux: GET /requests,
//     read-only (the held and denied requests of the agent's own
//     traffic, scrubbed), and /mcp.
//   - decision.go: the decision log (JSON lines), scrubbed and capped in
//     one place, and the held and denied lists supervise shows.
//   - aggregate.go: repeated refusals logged as one summary line.
//   - timeouts.go: idle, slow-header, slow-body and idle-tunnel timeouts.
//   - connlimit.go: at most maxAgentConns connections served at once
//     per daemon.
//   - limits.go: every bound the bundle puts on the agent
//     (docs/limits.md).
//   - dial.go: the upstream dialer, which never connects inward: no
//     special-purpose (non-global) address, no cloud metadata service.
//   - serve.go: wiring the daemons to their listen addresses.
//   - probe.go: the in-container probe runner `verify` uses (`bottleplan-bundle
//     probe`, wire types in probewire/): tcp, http, CONNECT, dns,
//     routes and raw-socket probes reported as facts.
//   - proberaw_linux.go: the probe that tries to open a raw IP socket
//     and a packet socket (and closes them at once, sending nothing).
//   - proberoutes.go: the probe that reads the IPv4 routing table.
//
// What it must not do: write a secret value anywhere (logs, errors,
// answers to the agent), read the host environment beyond the names the
// plan lists, or connect to anything but a route's host, a repo's
// upstream or, in tests, the dialer it is given.
package bundle
