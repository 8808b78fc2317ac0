// Package executor applies a saved plan to live resources.
//
// The flow is Backend.Observe (reads live state once, by label) -> Diff
// (pure: plan + observed state -> ops, each with its cause) -> Apply
// (executes the ops through the Backend and decides nothing). Labels
// (labels.go) are the only state; resources without the project label
// are never touched.
//
// Verify (verify.go, verifyjudge.go; wire types in bundle/probewire) is
// decided here too: which probes prove an instance's sandbox and what
// each must see; a backend only runs them and reads the agent's
// attachments.
//
// LogReader (logs.go) is how `logs` reads what an instance's containers
// wrote, the bundle's decision log among it, without the CLI talking to
// a backend's engine.
//
// This package owns the decisions: which resources to create, start,
// replace or delete and why, where an instance's CA comes from, which
// secrets an apply needs. It must not talk to Docker or smolvm (backends
// in subpackages do), read the process environment, or print: the CLI
// passes secret lookups in and renders ops and events.
package executor
