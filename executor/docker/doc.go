// Package docker is the Docker Engine backend of the executor: it
// observes, creates, starts and removes an instance's internal network,
// egress network, bundle container and agent container, and builds the
// images they run, all through the Engine API. For `verify` it also runs
// the short-lived probe container (verify.go): the live bundle's image at
// probe_ip, labelled with role probe and removed whatever happens. For
// `logs` it reads what a bundle or agent container wrote, as the Engine
// kept it (logs.go; the bundle's stdout is its decision log). For
// `supervise` it runs `bottleplan-bundle ctl` in a bundle container
// through the exec API (operator.go), the host's only way to the
// bundle's operator socket, which lives on a tmpfs at /run/bottleplan.
//
// Every limit it puts on the containers (the agent's capabilities and
// pids limit, the bundle's memory and pids limits, log rotation) is named
// once in limits.go, with what it protects. Those that are constants of
// the code, not plan fields, are stamped on each container as a digest
// (LabelLimits); Observe reports a container made with other limits, and
// Diff replaces it, as it does for a changed config hash.
//
// It is the only package that imports github.com/docker/docker/client,
// and it reaches the Engine only through the narrow Engine interface, so
// tests can drive error paths with a fake. It decides nothing: which
// resource to touch and why comes from executor.Diff. It never reads as
// ours, changes or removes a resource without the project label, and it
// never writes a secret value anywhere but a container's process env.
package docker
