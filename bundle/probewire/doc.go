// Package probewire is the wire format between `bottleplan verify` (the
// executor, which decides what results mean) and the probe runner
// `bottleplan-bundle probe` (the bundle, which reports facts from inside
// a container): verify sends a JSON array of Target and reads back a JSON
// array of Result.
//
// Standard library only and types only, so the executor core can share
// the format without importing the bundle's daemons.
package probewire
