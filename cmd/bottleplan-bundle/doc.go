// Command bottleplan-bundle is the program of a bottle's bundle
// container: `bottleplan-bundle serve` runs the bundle's daemons (package
// bundle) on the instance the executor copied in, and
// `bottleplan-bundle probe` runs the probes `bottleplan verify` asks for
// from a probe container started from the same image. Users do not run
// it; `bottleplan apply` builds the bundle image around it (a FROM
// scratch image, so it must be static: CGO_ENABLED=0).
//
// It is its own binary so that what sits between the agent and the
// network carries only the bundle's code: it imports bundle/, plan/,
// the standard library and golang.org/x (the git gate's ssh), and no
// CUE, Docker client, telemetry or flag library (deps_test.go enforces
// it). Flags are parsed with the standard library's flag package, and
// may follow the positional arguments as they did under the old
// `bottleplan bundle` command.
//
// Like cmd/bottleplan it is the only place that parses flags, reads the
// environment, prints and exits: Main returns the exit code, shared by
// the binary and the testscript harness. Files: main.go (dispatch,
// errors, help), serve.go, probe.go, ctl.go (the operator's side of
// supervise: list, approve, deny over the bundle's unix socket, run by
// the host through the Engine's exec API).
package main
