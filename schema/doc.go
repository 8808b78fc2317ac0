// Package schema owns the manifest format: the embedded CUE schema, the
// loader that reads .cue, .yaml/.yml and .json files, unifies them,
// validates every rule, applies defaults, resolves `extends`, and returns
// either a *Manifest (plain Go types) or positioned errors
// (file:line:col: path: message).
//
// It knows nothing of plans, networks or backends, and it is the only
// package that imports CUE besides tests.
package schema
