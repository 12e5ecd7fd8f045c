#!/usr/bin/env bash
# Cold converge of 20 services with `orun apply --once` against the Docker API floor: the same 20
# containers (one locally built image, a published port and two env values each) created and
# started straight through the Docker API by adapters/examples/api_floor.rs, with orun's default
# parallelism (4 calls in flight). Four measurements alternate within each run against the same
# engine, each timed from process start to exit, all 20 removed in between:
#   - the floor: create + start, each container joining a network under its name as orun's join
#     their environment's network;
#   - `orun apply --once --no-wait`: the same work, plus reading the manifests and planning;
#   - the floor with orun's stay-up check: each started container inspected 0.5 s later;
#   - `orun apply --once` as shipped, which makes that check.
# Prints medians and each orun figure's ratio to the floor that does the same work.
#
# Usage: bench/cold-vs-api.sh [RUNS]      (default 7 runs of each measurement)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-7}
count=20
parallelism=4
orun_port=33000
floor_port=34000
image=orun-bench/web:1
environment=orun-bench-cold
floor_label=orun-bench-floor
floor_network=orun-bench-floor

. bench/lib.sh
cargo build --release -q -p orun
cargo build --release -q -p orun-adapters --example api_floor
target=${CARGO_TARGET_DIR:-$PWD/target}/release
orun=$target/orun
floor=$target/examples/api_floor

work=$(mktemp -d)
cleanup() {
  remove_environments "$environment"
  local ids
  ids=$(docker ps -aq --filter "label=$floor_label")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
}
# orun never removes its environment's network; the bench removes both networks it made.
trap 'cleanup; docker network rm "orun-$environment" "$floor_network" >/dev/null 2>&1; rm -rf "$work"' EXIT
docker network rm "$floor_network" >/dev/null 2>&1 || true
docker network create "$floor_network" >/dev/null

# The image both run: static busybox serving a page with httpd.
build_web_image "$image" "$work/image"
write_deployments "$work/repo" $count $orun_port "$image"

orun_apply() { "$orun" apply --once --repo "$work/repo" --environment "$environment" "$@" >/dev/null; }
floor_run() { # SETTLE_MS
  "$floor" "$image" "$count" "$parallelism" "$environment-floor" "$floor_port" "$floor_label" "$1" "$floor_network"
}

running() { docker ps -q --filter "label=$1" | wc -l; }
check() { # LABEL WHO
  [ "$(running "$1")" -eq $count ] || { echo "$2 did not start all $count"; exit 1; }
  cleanup
}

orun_wait=() orun_nowait=() floor_plain=() floor_settle=()
cleanup
for run in $(seq 1 "$runs"); do
  floor_plain+=("$(timed floor_run 0)")
  check "$floor_label" "the floor"
  orun_nowait+=("$(timed orun_apply --no-wait)")
  check "run.orcra.dev/environment=$environment" "orun apply --once --no-wait"
  floor_settle+=("$(timed floor_run 500)")
  check "$floor_label" "the floor with the stay-up check"
  orun_wait+=("$(timed orun_apply)")
  check "run.orcra.dev/environment=$environment" "orun apply --once"
  echo "run $run/$runs done" >&2
done

median_of() { printf '%s\n' "$@" | median; }
row() { # LABEL MEDIAN FLOOR_MEDIAN
  printf '| %s | %.2f | %.2f× |\n' "$1" "$2" "$(echo "$2 / $3" | bc -l)"
}
plain=$(median_of "${floor_plain[@]}")
settle=$(median_of "${floor_settle[@]}")

echo
echo "$count services cold, parallelism $parallelism, $runs runs each, medians in seconds"
echo
echo "| measurement | seconds | ratio to the floor doing the same work |"
echo "|---|---:|---:|"
row "Docker API floor: create + start" "$plain" "$plain"
row "orun apply --once --no-wait" "$(median_of "${orun_nowait[@]}")" "$plain"
row "Docker API floor + stay-up check" "$settle" "$settle"
row "orun apply --once" "$(median_of "${orun_wait[@]}")" "$settle"
