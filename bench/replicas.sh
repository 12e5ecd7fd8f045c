#!/usr/bin/env bash
# Runs a release-build `orun start` with Caddy and three deployments behind Services: one replica
# rolled out start-first (the baseline), three replicas rolled out start-first, and three replicas
# rolled out stop-first (each replica taken out of the route while it is replaced), and sends
# steady load through Caddy to all three while N commits roll them out. Prints, per deployment,
# the requests sent during the rollouts, how many failed, their p50/p99 latency (failed requests
# included) and the p99 against the baseline's.
#
# Usage: bench/replicas.sh [ROLLOUTS] [CONNECTIONS]
#   ROLLOUTS     default 5
#   CONNECTIONS  `fresh` (default) or `keepalive`, as for bench/rollout.sh
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
start_rollout_bench orun-bench-replicas "$@"

# VERSION of all three deployments; each rollout changes it in one commit.
write_all() { # VERSION
  write_versioned_deployment single startFirst "$1" 1
  write_versioned_deployment three startFirst "$1" 3
  write_versioned_deployment threestop stopFirst "$1" 3
}
names=(single three threestop)

init_origin
write_all 0
for name in "${names[@]}"; do write_service "$name"; done
g add -A && g commit -qm "version 0" && g push -q origin main

start_bench_node "$environment"
wait_applied "$(g rev-parse HEAD)" "${names[@]}"

start_load "$connections" "${names[@]}"
sleep 2

run_rollouts write_all "${names[@]}"

echo
echo "$rollouts rollouts through Caddy, steady load (one client per Service, back to back, $connections connections)"
echo
echo "| deployment | requests during rollouts | failed | p50 latency | p99 latency | p99 against 1 replica |"
echo "|---|---:|---:|---:|---:|---:|"
report_requests single "1 replica, startFirst (baseline)" three "3 replicas, startFirst" \
  threestop "3 replicas, stopFirst"
