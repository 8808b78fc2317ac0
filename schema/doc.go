// Package schema owns the manifest format: the embedded CUE schema, the
// loader that reads .cue, .yaml/.yml and .json files, unifies them,
// validates every rule, applies defaults, resolves `extends`, and returns
// either a *Manifest (plain Go types) or positioned errors
// (file:line:col: path: message).
//
// It knows nothing of plans, networks or backends, and it is the only
// package that imports CUE besides tests.
//
// # Manifest root
//
// The manifest root is the deepest directory holding every path given to
// Load (a directory counts as itself, a file as its directory), so the
// order of the paths does not matter. Manifest.Bottles[*].AgentProvider.Dockerfile and
// Manifest.Agents[*].PromptFile are slash-separated paths relative to the
// root, while in the manifest they are written relative to the file that
// names them. The loader reads prompt files (text into Agent.Prompt) and
// hashes Dockerfiles (AgentProvider.DockerfileDigest), so the compiler
// never touches the file system.
//
// # How a manifest is checked
//
//  1. read.go: every file is read (at most MaxManifestBytes together),
//     refused when empty, binary, not UTF-8 or nested absurdly deep,
//     parsed to CUE syntax; several YAML documents and duplicate YAML or
//     JSON keys are errors (CUE would merge them silently).
//  2. load.go: the files are built and unified into one data value;
//     conflicts between files are reported first.
//  3. walk.go: every key is checked against the schema's field tree:
//     unknown fields with a "did you mean", invalid names, missing
//     required fields. CUE hides unknown fields of a struct that has other
//     errors; the walk does not.
//  4. load.go: the settings, then each bottle and each agent, are unified
//     with their compiled definition (#Bottle, #Agent) and validated one
//     at a time, so the cost grows with the number of entries instead of
//     one large unification; valid entries are decoded by a JSON round
//     trip, which is faster than Value.Decode.
//  5. rules.go, extends.go, agents.go: the rules CUE cannot say well are
//     checked in Go on the decoded values (reserved env names, "${"
//     misuse, egress hosts, repo URLs and keys, subnets and their overlap,
//     extends chains and cycles, dlp "supervise", agent references and
//     prompt files) and reported at the position of the offending value.
//     A field that only lacks required members is still decoded as
//     written for these rules, so a missing field hides no other error.
//  6. lint.go: policy mistakes the schema accepts but that fail later
//     or never (an ssh repo without a parseable host_key, an env value
//     copying a token the bundle injects: errors; a wildcard route with
//     auth, a route with auth to a git repo's host, a missing ssh key
//     file, a child bottle dropping its parent's routes, repos or env
//     values: warnings, in Manifest.Warnings, errors with
//     Options.Strict).
//  7. translate.go: evaluator messages are reworded in plain words; a
//     failed choice becomes `"podman" is not one of "docker",
//     "smolmachines"`.
//
// A manifest of a single YAML file is first tried on the fast path
// (fast.go): cut into chunks of whole entries, parsed on several workers
// and decoded straight from YAML nodes by decoders that accept only what
// the CUE schema accepts, then checked by the Go rules of step 5 and the
// lints of step 6. It never reports an error or a warning: at the first
// doubt, problem or lint finding, Load takes the steps
// above, which word every error. Valid manifests of 10000 agents load
// in about a second instead of twenty (docs/performance.md).
//
// Every problem found is returned, as Errors sorted by file and position.
// A bottle with errors still has its other sections checked, but is left
// out of extends resolution, so one mistake does not echo through every
// child.
package schema
