// Command proxy is the proxy overhead benchmark of docs/BENCHMARKS.md
// (issue 11). bench/proxy.sh builds it and runs it in a network
// namespace that holds nothing but lo; run by hand, never in CI.
//
// One binary, three roles, each its own process so that no two share a
// Go runtime (or, for mitmdump, an interpreter) with the load:
//
//   - runner (the default): makes the upstream's CA, starts the other
//     roles and mitmdump, drives the clients and prints a markdown table;
//   - upstream: a loopback TLS server for the route host (upstream.go);
//   - bundle: the bundle's egress proxy, built with bundle.NewProxy, with
//     an intercepted route that has auth, matches and dlp "block", and
//     an injected dialer that maps the route host onto the upstream
//     (bundleproc.go), since the production dialer refuses loopback.
//
// The route host is "localhost" at the upstream's port, so mitmdump,
// which resolves names itself, reaches the same upstream without a
// hosts file; the bundle never resolves it (its dialer maps it).
//
// For each workload (small GET, 64 KiB POST) and client count, every
// mode (direct, bundle, mitmdump) is measured back to back, RUNS times,
// and the run with the most requests per second is kept, so load from
// other jobs on the machine hits the modes of one cell alike. Before
// measuring, each mode is checked to do the work it is measured doing
// (sanity.go). The upstream speaks HTTP/1.1 unless -upstream-h2.
// proxy_test.go has BenchmarkBundlePOST64KiB: the bundle at 1, 8 and 32
// secrets, for DLP's share.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	role := flag.String("role", "runner", "runner, upstream or bundle")
	work := flag.String("work", "", "work directory for certificates and the mitmdump config (required)")
	// upstream and bundle roles
	upstreamAddr := flag.String("upstream", "", "bundle role: the upstream's loopback address")
	upstreamH2 := flag.Bool("upstream-h2", false, "upstream offers h2 as well as HTTP/1.1")
	cpuprofile := flag.String("cpuprofile", "", "runner: profile the bundle process into this file; bundle role: write the profile here")
	// runner
	clients := flag.String("clients", "1,16,64", "client counts, comma-separated")
	workloads := flag.String("workloads", "get,post", "workloads: get (small GET), post (64 KiB POST)")
	modes := flag.String("modes", "direct,bundle,mitmdump", "modes to measure")
	runs := flag.Int("runs", 3, "runs per cell; the run with the most requests per second is kept")
	warmup := flag.Duration("warmup", time.Second, "warm-up per cell, not measured")
	duration := flag.Duration("duration", 5*time.Second, "measured time per cell")
	mitmdump := flag.String("mitmdump", "mitmdump", "mitmdump binary")
	flag.Parse()
	if *work == "" {
		fmt.Fprintln(os.Stderr, "proxy: -work is required")
		os.Exit(2)
	}
	var err error
	switch *role {
	case "upstream":
		err = serveUpstream(*work, *upstreamH2)
	case "bundle":
		err = serveBundle(*work, *upstreamAddr, *cpuprofile)
	case "runner":
		err = run(runConfig{
			work:       *work,
			clients:    *clients,
			workloads:  *workloads,
			modes:      *modes,
			runs:       *runs,
			warmup:     *warmup,
			duration:   *duration,
			mitmdump:   *mitmdump,
			cpuprofile: *cpuprofile,
			upstreamH2: *upstreamH2,
		})
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxy (%s): %v\n", *role, err)
		os.Exit(1)
	}
}
