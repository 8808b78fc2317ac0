// Package dockertest holds what tests that need the real Docker Engine
// share: the connection (skip, or fail with BOTTLEPLAN_REQUIRE_DOCKER=1),
// a static bottleplan binary for the bundle image, a FROM scratch agent
// image, unique project names and pinned subnets, cleanup by label, and a
// local HTTPS upstream on public-looking egress networks (upstream.go).
// Only tests import it.
package dockertest
