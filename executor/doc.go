// Package executor applies a saved plan: Observe (reads live state once),
// Diff (pure: plan + observed state -> ops, each with its cause), Apply
// (executes ops, decides nothing). Backends live in subpackages.
package executor
