// Package compiler turns a validated *schema.Manifest into a *plan.Plan:
// one instance per agent, with addresses, guest env, bundle config,
// endpoints and config hashes.
//
// Compile is pure: no os, no time, no env, no network. The same manifest
// gives the same plan on any machine, on any day. It imports schema for
// its Go types only and never calls the loader; it must not import the
// Docker client (a test checks both).
//
// Files, one concept each:
//   - compile.go: Compile, Options, the instance and its endpoints;
//   - address.go: subnet allocation from the pool (pins, collisions,
//     stability when instances come and go) and the fixed host offsets;
//   - agent.go: provider templates (default command, prompt mode, image,
//     model API host) and the agent section;
//   - bundle.go: proxy routes (with the implicit provider route), git
//     gate, supervise, secrets the bundle needs;
//   - env.go: guest_env, env_from_host, env_prompted;
//   - hash.go: manifest digest and per-resource config hashes.
//
// Choices the spec leaves open, and where they are documented:
//   - two agents naming one bottle that pins a subnet is an error naming
//     both (checkPins): a subnet holds one instance;
//   - the model API route is added when a bottle does not declare it,
//     with the auth_token injected (compileRoutes), and the agent sees a
//     placeholder credential (compileEnv);
//   - every route is intercepted, auth and matches or not, so DLP reads
//     every request; a client that pins certificates, or a non-TLS
//     protocol through CONNECT, cannot use a route (compileRoutes);
//   - CA variables are always set; git identity goes into GIT_CONFIG too
//     (compileEnv);
//   - a bottle naming neither image nor dockerfile gets the template's
//     recipe image (agentimage), built FROM Options.AgentBase, with the
//     recipe in the plan (compileAgent);
//   - docker agents run with a terminal and an open stdin
//     (plan.Agent.Terminal), so bottleplan attach reaches them; the
//     flag is in the agent's config hash, so the first apply after it
//     appeared replaces each docker agent once;
//   - every agent has a pids limit: agent.resources is always set and
//     carries pids (manifest resources.pids, or its default, which
//     schema.Load applies to a bottle without a resources block too);
//     cpus and memory_mib stay 0, no limit, unless the bottle sets
//     them. A hand-built manifest without pids is refused (checkBottle);
//   - a route's websocket flag is copied as written (false unless the
//     manifest opts in); the agent's limits are in its config hash
//     through agent.resources, so changing them replaces the agent.
package compiler
