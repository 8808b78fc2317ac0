// Package compiler turns a validated *schema.Manifest into a *plan.Plan:
// one instance per agent, with addresses, guest env, bundle config,
// endpoints and config hashes.
//
// Compile is pure: no os, no time, no env, no network. The same manifest
// gives the same plan on any machine, on any day.
package compiler
