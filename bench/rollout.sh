#!/usr/bin/env bash
# Runs a release-build `orun start` with Caddy and two deployments behind Services, one rolled out
# start-first and one stop-first (the baseline), and sends steady load through Caddy to both while
# N commits roll both out. Prints, per strategy, the requests sent during the rollouts, how many
# failed, and their p50/p99 latency (failed requests included), the p99 against the baseline's.
#
# Usage: bench/rollout.sh [ROLLOUTS] [CONNECTIONS]
#   ROLLOUTS     default 5
#   CONNECTIONS  `fresh` (default): one connection per request; `keepalive`: one connection per
#                client, reused, with no retry when Caddy closes it (a new one is opened after)
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
start_rollout_bench orun-bench-rollout "$@"

# VERSION of both deployments; each rollout changes it in one commit.
write_both() { # VERSION
  write_versioned_deployment startfirst startFirst "$1"
  write_versioned_deployment stopfirst stopFirst "$1"
}

init_origin
write_both 0
write_service startfirst
write_service stopfirst
g add -A && g commit -qm "version 0" && g push -q origin main

start_bench_node "$environment"
wait_applied "$(g rev-parse HEAD)" startfirst stopfirst

start_load "$connections" startfirst stopfirst
sleep 2

run_rollouts write_both startfirst stopfirst

echo
echo "$rollouts rollouts of both deployments through Caddy, steady load (one client per Service, back to back, $connections connections)"
echo
echo "| rollout | requests during rollouts | failed | p50 latency | p99 latency | p99 against stopFirst |"
echo "|---|---:|---:|---:|---:|---:|"
report_requests stopfirst "stopFirst (baseline)" startfirst startFirst
