// Command genmanifest writes a bottleplan manifest of N instances for the
// benchmarks: N bottles, each with 5 egress routes, 2 git repos and 5 env
// entries, and one agent per bottle. The output is deterministic for a
// given N, so runs on different days compare.
//
//	go run ./bench/genmanifest -n 1000 > /tmp/m1000.yaml
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

func main() {
	n := flag.Int("n", 100, "number of instances (agents, each in its own bottle)")
	image := flag.String("image", "bottleplan/bench-agent:latest", "agent image of every bottle (apply benchmarks: a local image)")
	project := flag.String("project", "bench", "project name (apply benchmarks: one unique to the run)")
	pool := flag.String("pool", "10.0.0.0/8", "defaults.address_pool (apply benchmarks: one no other network on the host overlaps)")
	flag.Parse()
	if *n < 1 || *n > 1<<20 {
		fmt.Fprintln(os.Stderr, "genmanifest: -n must be between 1 and 1048576")
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	write(w, *n, *project, *image, *pool)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "genmanifest:", err)
		os.Exit(1)
	}
}

// write emits the manifest. A /8 pool of /28 subnets holds 2^20 instances.
func write(w *bufio.Writer, n int, project, image, pool string) {
	fmt.Fprintf(w, "version: 1\nproject: %s\ndefaults:\n  backend: docker\n  address_pool: %s\n  subnet_prefix: 28\n", project, pool)
	fmt.Fprintf(w, "bottles:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "  b%d:\n", i)
		fmt.Fprintf(w, "    agent_provider:\n      template: claude\n      auth_token: CLAUDE_CODE_OAUTH_TOKEN\n      image: %s\n", image)
		fmt.Fprintf(w, "    env:\n")
		fmt.Fprintf(w, "      GIT_AUTHOR_NAME: bot-%d\n", i)
		fmt.Fprintf(w, "      TEAM: team-%d\n", i%17)
		fmt.Fprintf(w, "      GH_TOKEN: ${HOST_GH_PAT}\n")
		fmt.Fprintf(w, "      JIRA_TOKEN: \"?Jira token for %d\"\n", i)
		fmt.Fprintf(w, "      LOG_LEVEL: debug\n")
		fmt.Fprintf(w, "    git_gate:\n      user: {name: bot-%d, email: bot-%d@example.com}\n      repos:\n", i, i)
		fmt.Fprintf(w, "        app:\n          url: ssh://git@git.example.com/org/app-%d.git\n          key: {provider: static, path: ~/.ssh/id_app}\n          access: read-write\n", i)
		fmt.Fprintf(w, "        docs:\n          url: https://git.example.com/org/docs-%d.git\n          key: {provider: token, token_ref: HOST_DOCS_TOKEN}\n          access: read\n", i)
		fmt.Fprintf(w, "    egress:\n      routes:\n")
		fmt.Fprintf(w, "        - host: api.github.com\n          auth: {scheme: Bearer, token_ref: HOST_GH_PAT}\n          matches:\n            - paths: [{type: prefix, value: /repos/org/app-%d/}]\n              methods: [GET, POST]\n", i)
		fmt.Fprintf(w, "        - host: pypi.org\n")
		fmt.Fprintf(w, "        - host: \"*.pythonhosted.org\"\n")
		fmt.Fprintf(w, "        - host: registry.npmjs.org\n          ports: [443, 8443]\n")
		fmt.Fprintf(w, "        - host: svc-%d.example.com\n", i)
	}
	fmt.Fprintf(w, "agents:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "  a%d:\n    bottle: b%d\n    skills: [init-prd]\n    prompt: \"Work item %d: implement and test.\"\n", i, i, i)
	}
}
