#!/usr/bin/env bash
# bench/apply.sh: the apply benchmark of docs/BENCHMARKS.md. Run by hand
# from the repository root on a host with the Docker Engine and Debian's
# docker-compose (1.29); bench/run.sh calls it last.
#
#	bench/apply.sh                     # N = 1 5 20, 5 runs each
#	RUNS=3 APPLY_NS="20" bench/apply.sh
#	RUNS=1 COMPOSE=0 APPLY_NS="20 50 100" bench/apply.sh   # scale (issue 15)
#
# For each N: a manifest of N instances (bench/genmanifest, agent image
# bottleplan-bench/agent:1 built FROM scratch around the executor tests'
# sleeper, pool 10.77.0.0/16) is planned, then, RUNS times each, the
# minimum wall time of
#   bottleplan apply --auto-approve (cold), the same again (no-op),
#   bottleplan destroy --auto-approve,
# and of an equivalent compose project (bench/composegen writes it from
# `docker inspect` of what apply made: same networks and pinned subnets,
# same containers, images, env and addresses, files bind-mounted instead
# of copied in):
#   docker-compose up -d (cold), the same again (no-op), docker-compose down.
# The bundle image is built by a warm-up apply first, so neither side
# builds or pulls an image while measured. COMPOSE=0 leaves the compose
# side out (the scale runs: 100 instances of each would take long).
#
# Every bottleplan command runs with BOTTLEPLAN_ENGINE_TIMING=1; the
# scale table counts the Engine calls of the last run of each (per
# instance, and the network creates of the cold apply: one per instance
# for its internal network plus one for the project's egress network). Everything carries the
# project name bpbench-<pid> (label io.bottleplan.project for apply,
# io.bottleplan.bench for compose) and is removed by label at the end,
# also on failure. Only local images and networks are used.
set -euo pipefail

RUNS=${RUNS:-5}
COMPOSE=${COMPOSE:-1}
APPLY_NS=${APPLY_NS:-"1 5 20"}
BENCH_DIR=${BENCH_DIR:-/tmp/bottleplan-bench}
root=$(cd "$(dirname "$0")/.." && pwd)
project=bpbench-$$
work=$BENCH_DIR/apply-$project
pool=10.77.0.0/16
agent_image=bottleplan-bench/agent:1

cleanup() {
	local ids
	ids=$(docker ps -aq --filter "label=io.bottleplan.project=$project"; docker ps -aq --filter "label=io.bottleplan.bench=$project")
	[[ -z $ids ]] || docker rm -f $ids >/dev/null
	ids=$(docker network ls -q --filter "label=io.bottleplan.project=$project"; docker network ls -q --filter "label=io.bottleplan.bench=$project")
	[[ -z $ids ]] || docker network rm $ids >/dev/null
}
trap cleanup EXIT

mkdir -p "$work/img" "$work/home/.ssh"
cd "$root"
echo "building bottleplan, composegen and the agent image" >&2
CGO_ENABLED=0 go build -o "$work/bottleplan" ./cmd/bottleplan
CGO_ENABLED=0 go build -o "$work/bottleplan-bundle" ./cmd/bottleplan-bundle # apply finds it beside bottleplan
go build -o "$work/composegen" ./bench/composegen
go build -o "$work/genmanifest" ./bench/genmanifest
CGO_ENABLED=0 go build -o "$work/img/sleeper" ./executor/docker/dockertest/testdata/sleeper
printf 'FROM scratch\nCOPY sleeper /sleeper\nENTRYPOINT ["/sleeper"]\n' >"$work/img/Dockerfile"
docker build -q -t "$agent_image" "$work/img" >/dev/null 2>&1
# The secrets the generated manifest names: throwaway values and key.
ssh-keygen -q -t ed25519 -N '' -f "$work/home/.ssh/id_app" <<<y >/dev/null 2>&1 || true
printf 'JIRA_TOKEN=bench\n' >"$work/env"
export HOME=$work/home CLAUDE_CODE_OAUTH_TOKEN=bench HOST_GH_PAT=bench HOST_DOCS_TOKEN=bench
bp() { "$work/bottleplan" "$@" >>"$work/log" 2>&1; }
# bpt KEY ARGS...: bp with the Engine calls timed into $work/engine-KEY.
bpt() {
	local key=$1
	shift
	BOTTLEPLAN_ENGINE_TIMING=1 "$work/bottleplan" "$@" >>"$work/log" 2>"$work/engine-$key"
}
calls() { grep -c '^engine ' "$work/engine-$1" || true; }
netcreates() { grep -c '^engine NetworkCreate ' "$work/engine-$1" || true; }
compose() { docker-compose -p "$project" -f "$work/compose.yml" "$@" >>"$work/log" 2>&1; }

# timed VAR CMD...: runs CMD, adds its wall time in seconds to VAR's list.
declare -A times
timed() {
	local key=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	"$@" || { echo "failed: $*; see $work/log" >&2; tail -20 "$work/log" >&2; exit 1; }
	t1=$(date +%s.%N)
	times[$key]+="$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}") "
}
minof() { tr ' ' '\n' <<<"${times[$1]}" | grep . | sort -g | head -1; }

# running SIDE: after a no-op, every container of the side must be up
# (a bundle that exits would make either side's numbers meaningless).
running() {
	local label=io.bottleplan.project up
	[[ $1 == bottleplan ]] || label=io.bottleplan.bench
	up=$(docker ps -q --filter "label=$label=$project" --filter status=running | wc -l)
	if ((up != 2 * n)); then
		echo "$1: $up of $((2 * n)) containers running; see $work/log" >&2
		exit 1
	fi
}

cd "$work"
rows=()
scale=()
for n in $APPLY_NS; do
	"$work/genmanifest" -n "$n" -project "$project" -image "$agent_image" -pool "$pool" >"m$n.yaml"
	bp plan -f "m$n.yaml" -o "plan$n.json"
	if ((!COMPOSE)); then
		# Warm-up once: builds the bundle image.
		if [[ -z ${warm:-} ]]; then
			bp apply "plan$n.json" --auto-approve --env-file env
			bp destroy "plan$n.json" --auto-approve
			warm=1
		fi
	elif [[ ! -s compose.yml ]] || [[ $n != "${last_n:-}" ]]; then
		# Warm-up: builds the bundle image once, and gives composegen
		# the live resources to copy.
		bp apply "plan$n.json" --auto-approve --env-file env
		docker inspect $(docker ps -aq --filter "label=io.bottleplan.project=$project") >c.json
		docker network inspect $(docker network ls -q --filter "label=io.bottleplan.project=$project") >n.json
		"$work/composegen" -label "io.bottleplan.bench=$project" c.json n.json >compose.yml
		rm -rf files
		for c in $(docker ps -aq --filter "label=io.bottleplan.project=$project"); do
			name=$(docker inspect -f '{{.Name}}' "$c" | tr -d /)
			user=$(docker inspect -f '{{.Config.User}}' "$c")
			mkdir -p "files/$name/etc"
			docker cp "$c:/etc/bottleplan" "files/$name/etc/"
			[[ -z $user ]] || chown -R "$user" "files/$name"
		done
		bp destroy "plan$n.json" --auto-approve
		last_n=$n
	fi
	for ((i = 0; i < RUNS; i++)); do
		echo "N=$n run $((i + 1))/$RUNS" >&2
		timed "bp-up-$n" bpt "up-$n" apply "plan$n.json" --auto-approve --env-file env
		timed "bp-noop-$n" bpt "noop-$n" apply "plan$n.json" --auto-approve --env-file env
		running bottleplan
		timed "bp-down-$n" bpt "down-$n" destroy "plan$n.json" --auto-approve
		((COMPOSE)) || continue
		timed "c-up-$n" compose up -d
		timed "c-noop-$n" compose up -d
		running compose
		timed "c-down-$n" compose down
	done
	[[ -z $(docker ps -aq --filter "label=io.bottleplan.project=$project") ]] || { echo "destroy left containers" >&2; exit 1; }
	ratio() { awk "BEGIN{printf \"%.2f\", $1/$2}"; }
	up=$(minof "bp-up-$n") noop=$(minof "bp-noop-$n") down=$(minof "bp-down-$n")
	scale+=("| $n | $up s | $(ratio "$up" "$n") s | $noop s | $down s | $(ratio "$(calls "up-$n")" "$n") | $(netcreates "up-$n") | $(calls "noop-$n") | $(ratio "$(calls "down-$n")" "$n") |")
	((COMPOSE)) || continue
	cup=$(minof "c-up-$n") cnoop=$(minof "c-noop-$n") cdown=$(minof "c-down-$n")
	rows+=("| $n | $up s | $cup s | $(ratio "$up" "$cup") | $noop s | $cnoop s | $(ratio "$noop" "$up") | $down s | $cdown s |")
done

echo
echo "min of $RUNS runs; Docker Engine $(docker version -f '{{.Server.Version}}'); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "| N | apply (cold) | per instance | re-apply (no-op) | destroy | Engine calls per instance (cold) | network creates (cold) | Engine calls (no-op) | Engine calls per instance (destroy) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${scale[@]}"
((COMPOSE)) || exit 0
echo
echo "$(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
echo
echo "| N | apply (cold) | compose up | apply / compose | re-apply (no-op) | compose up (no-op) | no-op / cold apply | destroy | compose down |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
