#!/usr/bin/env bash
# bench/proxy.sh: the proxy overhead benchmark of docs/BENCHMARKS.md
# (issue 11). Run by hand from the repository root, never in CI:
#
#	bench/proxy.sh                               # 3 runs, 5 s per cell
#	RUNS=1 DURATION=2s CLIENTS=16 bench/proxy.sh
#	CPUPROFILE=/tmp/bundle.prof MODES=bundle bench/proxy.sh
#	UPSTREAM_H2=1 bench/proxy.sh
#
# It builds bench/proxy and runs it, in a new network namespace that
# holds nothing but lo when unshare is permitted (so no packet can leave
# the machine), else in the host's namespace on loopback addresses only,
# and says which. bench/proxy measures small GETs and 64 KiB POSTs from
# CLIENTS concurrent keep-alive clients, each mode in turn:
#   - direct to a loopback TLS upstream (the baseline);
#   - through the bundle's egress proxy (bundle.NewProxy): CONNECT to an
#     intercepted route with auth (token injection), matches and dlp
#     "block", BENCH secrets for DLP to scan for;
#   - through mitmdump (Debian's mitmproxy package: apt-get install
#     mitmproxy) with an allowlist addon, upstream certificates verified.
# The upstream speaks HTTP/1.1 only; UPSTREAM_H2=1 lets it offer h2 too
# (then the bundle's upstream transport multiplexes on one connection).
# It prints a markdown table: req/s, p50 and p99 per cell, best of RUNS
# runs, bundle/direct and bundle/mitmdump ratios and the p99 the bundle
# adds. The whole run is bounded by TIMEOUT seconds. Work files go to
# $BENCH_DIR/proxy-<pid> and are removed at the end.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CLIENTS=${CLIENTS:-1,16,64}
WORKLOADS=${WORKLOADS:-get,post}
MODES=${MODES:-direct,bundle,mitmdump}
UPSTREAM_H2=${UPSTREAM_H2:-0}
CPUPROFILE=${CPUPROFILE:-}
TIMEOUT=${TIMEOUT:-1800}
BENCH_DIR=${BENCH_DIR:-/tmp/bottleplan-bench}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$BENCH_DIR/proxy-$$
trap 'rm -rf "$work"' EXIT

if [[ ,$MODES, == *,mitmdump,* ]] && ! command -v mitmdump >/dev/null; then
	echo "mitmdump not found: apt-get install mitmproxy, or MODES=direct,bundle" >&2
	exit 1
fi
if [[ -n $CPUPROFILE && $CPUPROFILE != /* ]]; then
	CPUPROFILE=$PWD/$CPUPROFILE
fi

mkdir -p "$work"
cd "$root"
echo "building bench/proxy" >&2
CGO_ENABLED=0 go build -o "$work/proxy" ./bench/proxy

# A namespace of its own with only lo: plain -n as root, -rn (a user
# namespace too) otherwise; either must also let us bring lo up.
netns=()
if command -v unshare >/dev/null && command -v ip >/dev/null; then
	for flags in -n -rn; do
		if unshare "$flags" ip link set lo up 2>/dev/null; then
			netns=(unshare "$flags" sh -c 'ip link set lo up && exec "$@"' sh)
			echo "running in a new network namespace (unshare $flags) with only lo" >&2
			break
		fi
	done
fi
if ((${#netns[@]} == 0)); then
	echo "unshare is not permitted here (or ip is missing): running in the host's network namespace, loopback addresses only" >&2
fi

timeout --kill-after=10 "$TIMEOUT" "${netns[@]}" "$work/proxy" -work "$work" \
	-runs "$RUNS" -duration "$DURATION" -warmup "$WARMUP" \
	-clients "$CLIENTS" -workloads "$WORKLOADS" -modes "$MODES" \
	-upstream-h2="$([[ $UPSTREAM_H2 == 1 ]] && echo true || echo false)" \
	${CPUPROFILE:+-cpuprofile "$CPUPROFILE"}
