#!/usr/bin/env bash
# Compares `orun apply --once` with `docker-compose up -d` on the same 20 services (same local
# image, ports and env), both against the local Docker engine in this one run: cold start (nothing
# running, until all 20 run) and the no-op re-run. Prints medians and the orun/compose ratio.
#
# Usage: bench/apply-vs-compose.sh [RUNS]      (default 5 runs of each measurement)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
count=20
base_port=31000
image=orun-bench/web:1
environment=orun-bench
project=orunbench

command -v docker-compose >/dev/null || { echo "docker-compose is required (apt-get install docker-compose)"; exit 1; }
. bench/lib.sh
cargo build --release -q -p orun
orun=${CARGO_TARGET_DIR:-$PWD/target}/release/orun

work=$(mktemp -d)
# orun never removes its environment's network; the bench does.
trap 'cleanup; docker network rm "orun-$environment" >/dev/null 2>&1; rm -rf "$work"' EXIT

# The image both tools run: static busybox serving a page with httpd.
build_web_image "$image" "$work/image"

write_deployments "$work/repo" $count $base_port "$image"
{
  echo "version: '2.4'"
  echo "services:"
} > "$work/docker-compose.yml"
for i in $(seq -w 1 $count); do
  cat >> "$work/docker-compose.yml" <<YAML
  svc-$i:
    image: $image
    ports:
      - "127.0.0.1:$((base_port + 10#$i)):80"
    environment:
      SERVICE: svc-$i
      LOG_LEVEL: info
YAML
done

cleanup() {
  remove_environments "$environment"
  docker-compose -p "$project" -f "$work/docker-compose.yml" down -t 1 >/dev/null 2>&1 || true
}

orun_apply() { "$orun" apply --once --repo "$work/repo" --environment "$environment" >/dev/null; }
compose_up() { docker-compose -p "$project" -f "$work/docker-compose.yml" up -d >/dev/null 2>&1; }

running() { docker ps -q --filter "$1" | wc -l; }

orun_cold=() compose_cold=() orun_noop=() compose_noop=()
cleanup
for run in $(seq 1 "$runs"); do
  orun_cold+=("$(timed orun_apply)")
  [ "$(running "label=run.orcra.dev/environment=$environment")" -eq $count ] || { echo "orun did not start all $count"; exit 1; }
  orun_noop+=("$(timed orun_apply)")
  cleanup
  compose_cold+=("$(timed compose_up)")
  [ "$(running "label=com.docker.compose.project=$project")" -eq $count ] || { echo "compose did not start all $count"; exit 1; }
  compose_noop+=("$(timed compose_up)")
  cleanup
  echo "run $run/$runs done" >&2
done

orun_cold_median=$(printf '%s\n' "${orun_cold[@]}" | median)
compose_cold_median=$(printf '%s\n' "${compose_cold[@]}" | median)
orun_noop_median=$(printf '%s\n' "${orun_noop[@]}" | median)
compose_noop_median=$(printf '%s\n' "${compose_noop[@]}" | median)

echo
echo "$count services, $runs runs each, medians in seconds"
echo
echo "| measurement | orun apply --once | docker-compose up -d | orun/compose |"
echo "|---|---:|---:|---:|"
printf '| cold start, all running | %.2f | %.2f | %.2f× |\n' "$orun_cold_median" "$compose_cold_median" "$(echo "$orun_cold_median / $compose_cold_median" | bc -l)"
printf '| no-op re-run | %.3f | %.3f | %.2f× |\n' "$orun_noop_median" "$compose_noop_median" "$(echo "$orun_noop_median / $compose_noop_median" | bc -l)"
