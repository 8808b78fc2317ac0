#!/usr/bin/env bash
# bench/run.sh: the plan-scale benchmark of docs/BENCHMARKS.md. Run by hand
# from the repository root (never in CI; it takes minutes):
#
#	bench/run.sh                 # N = 1 100 1000 10000, 5 runs each
#	RUNS=3 NS="1000" SKIP_APPLY=1 bench/run.sh
#
# For each N it generates a manifest (bench/genmanifest) and takes the
# minimum over RUNS runs of the wall time (date, ms) and of the max RSS
# (/usr/bin/time -f '%M') of:
#   - bottleplan plan -f m.yaml -o plan.json (review output to /dev/null);
#   - cue vet -c -d '#Manifest' schema.cue m.yaml, schema.cue being the
#     output of `bottleplan schema`, cue being cuelang.org/go/cmd/cue at
#     the version go.mod requires, installed once into $BENCH_DIR/tools;
#   - bench/yamlfloor m.yaml: parsing the file with the YAML parser the
#     loader uses and nothing else (the floor).
# and prints a markdown table. Work files go to $BENCH_DIR
# (default /tmp/bottleplan-bench). Then, unless SKIP_APPLY=1, it runs
# bench/apply.sh (apply beside docker-compose, needs the Docker Engine).
set -euo pipefail

RUNS=${RUNS:-5}
NS=${NS:-"1 100 1000 10000"}
BENCH_DIR=${BENCH_DIR:-/tmp/bottleplan-bench}
root=$(cd "$(dirname "$0")/.." && pwd)
cue_version=$(cd "$root" && go list -m -f '{{.Version}}' cuelang.org/go)

mkdir -p "$BENCH_DIR/tools"
cd "$root"
echo "building bottleplan, yamlfloor, genmanifest (CGO_ENABLED=0)" >&2
CGO_ENABLED=0 go build -o "$BENCH_DIR/bottleplan" ./cmd/bottleplan
CGO_ENABLED=0 go build -o "$BENCH_DIR/yamlfloor" ./bench/yamlfloor
go build -o "$BENCH_DIR/genmanifest" ./bench/genmanifest
if [[ ! -x $BENCH_DIR/tools/cue-$cue_version ]]; then
	echo "installing cue $cue_version into $BENCH_DIR/tools (once)" >&2
	GOBIN="$BENCH_DIR/tools" CGO_ENABLED=0 go install "cuelang.org/go/cmd/cue@$cue_version"
	mv "$BENCH_DIR/tools/cue" "$BENCH_DIR/tools/cue-$cue_version"
fi
cue=$BENCH_DIR/tools/cue-$cue_version
"$BENCH_DIR/bottleplan" schema >"$BENCH_DIR/schema.cue"

# measure NAME CMD...: runs CMD $RUNS times, prints "min_seconds min_kib".
measure() {
	local best_t="" best_m="" t m i
	for ((i = 0; i < RUNS; i++)); do
		# Wall time from date (ms; time's %e has 10 ms steps), max RSS
		# from /usr/bin/time.
		t0=$(date +%s.%N)
		/usr/bin/time -f '%M' -o "$BENCH_DIR/time.out" "$@" >/dev/null 2>"$BENCH_DIR/stderr.out" || {
			echo "failed: $*" >&2
			cat "$BENCH_DIR/stderr.out" >&2
			exit 1
		}
		t=$(awk "BEGIN{printf \"%.3f\", $(date +%s.%N) - $t0}")
		read -r m <"$BENCH_DIR/time.out"
		if [[ -z $best_t ]] || awk "BEGIN{exit !($t < $best_t)}"; then best_t=$t; fi
		if [[ -z $best_m ]] || ((m < best_m)); then best_m=$m; fi
	done
	echo "$best_t $best_m"
}

mib() { awk "BEGIN{printf \"%.0f\", $1/1024}"; }
ratio() { awk "BEGIN{if ($2 > 0) printf \"%.2f\", $1/$2; else print \"-\"}"; }

rows=()
declare -A plan_t
for n in $NS; do
	m=$BENCH_DIR/m$n.yaml
	"$BENCH_DIR/genmanifest" -n "$n" >"$m"
	echo "N=$n: plan" >&2
	read -r pt pm < <(measure "$BENCH_DIR/bottleplan" plan -f "$m" -o "$BENCH_DIR/plan$n.json")
	echo "N=$n: cue vet" >&2
	read -r ct cm < <(measure "$cue" vet -c -d '#Manifest' "$BENCH_DIR/schema.cue" "$m")
	echo "N=$n: yaml floor" >&2
	read -r ft fm < <(measure "$BENCH_DIR/yamlfloor" "$m")
	plan_t[$n]=$pt
	rows+=("| $n | $(du -k "$m" | cut -f1) KiB | $pt s | $(mib "$pm") MiB | $ct s | $(mib "$cm") MiB | $(ratio "$pt" "$ct") | $ft s | $(mib "$fm") MiB |")
done

echo
echo "min of $RUNS runs; plan = \`bottleplan plan -f m.yaml -o plan.json\`, cue vet = \`cue vet -c -d '#Manifest'\` ($cue_version), floor = YAML parse only"
echo
echo "| N | manifest | plan | plan RSS | cue vet | cue vet RSS | plan / cue vet | YAML floor | floor RSS |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
if [[ -n ${plan_t[1000]:-} && -n ${plan_t[10000]:-} ]]; then
	echo
	echo "growth: plan at 10000 takes $(ratio "${plan_t[10000]}" "${plan_t[1000]}")x plan at 1000"
fi
echo
echo "machine: $(nproc) cores, $(free -m | awk '/^Mem:/{print $2}') MiB RAM, $(go version | cut -d' ' -f3-), load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ ${SKIP_APPLY:-} != 1 ]]; then
	RUNS=$RUNS BENCH_DIR=$BENCH_DIR "$root/bench/apply.sh"
fi
