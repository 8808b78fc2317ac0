// Package smolvm is the smolmachines backend: the only code in bottleplan
// that runs the smolvm CLI. It runs the agent of a smolmachines instance in
// a smolvm microVM whose egress allow list is exactly the bundle's /32; the
// bridge network and the bundle container stay on the Docker backend.
//
// What it owns:
//   - detecting the smolvm version and the flag spelling of that version
//     (one table, version.go); an unsupported version is an error;
//   - packing the agent image into a .smolmachine once per image digest,
//     through a packer machine created from the `docker save` archive
//     (machine.go);
//   - the machine lifecycle: create, start, readiness, read-back of
//     networking and labels, guest files (CA certificate, prompt), agent
//     launch, stop, delete (machine.go);
//   - the egress check by behaviour, at apply and for verify: a probe in
//     the guest must be refused by the allow list and the DNS filter, and
//     smolvm must record each refusal (egress.go);
//   - attached commands for attach and exec (interactive.go);
//   - the convergence decision and its rollback (apply.go);
//   - observing the project's machines through `machine ls --json` and
//     their labels (observe.go);
//   - every smolvm argv (argv.go) and its rendering, secrets shown as
//     placeholders, for `apply --dry-run` (command.go);
//   - Hybrid, the executor.Backend of plans with smolmachines instances:
//     networks and bundles on the Docker backend, agents here
//     (hybrid.go); its executor.LogReader reads bundles' output (the
//     decision log) on the Docker side and answers ErrLogsUnsupported
//     for a machine's (logs.go).
//
// What it must not do: read the process environment or prompt (secret
// values arrive from the caller; no SMOLVM_* variable reaches smolvm), talk to Docker (the Docker backend does,
// behind executor.Backend and ImageExporter), put a secret value on an
// argv (argv is visible in ps), or touch a machine that does not carry the
// project's labels.
//
// docs/smolvm.md records what is known about the real CLI, with the
// source path and release each fact was checked against, and what remains
// unchecked on a KVM host; testdata/smolvm-cli.json is the recorded CLI
// the fake and every argv are tested against.
package smolvm
