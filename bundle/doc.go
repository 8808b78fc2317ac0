// Package bundle holds the sidecar daemons that run inside a bottle's
// bundle container (`bottleplan bundle serve`): the egress proxy, the git
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
//   - dlp.go: what dlp block / supervise / redact do.
//   - auth.go: how a token becomes an Authorization header.
//   - ca.go: the instance CA and per-host leaf certificates.
//   - gitgate.go: the git smart-HTTP gate (https upstreams).
//   - gitssh.go: the gate's bridge to ssh upstreams.
//   - supervise.go: GET /requests, the held and blocked requests.
//   - decision.go: the decision log (JSON lines) and what supervise lists.
//   - dial.go: the upstream dialer, which never connects inward.
//   - serve.go: wiring the daemons to their listen addresses.
//   - probe.go: the in-container probe runner `verify` uses (`bottleplan
//     bundle probe`, wire types in probewire/): tcp, http, CONNECT, dns,
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
