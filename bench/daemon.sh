#!/usr/bin/env bash
# Runs `orun start` for a bounded time with 20 deployments and a 5 s poll on a local remote, and
# reports idle resident memory, CPU per idle tick, and commit-to-running latency (median of 10
# commits) next to the poll interval.
#
# Usage: bench/daemon.sh [IDLE_SECONDS]      (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."

idle_seconds=${1:-60}
count=20
commits=10
poll=5
base_port=32000
image=orun-bench/web:1
environment=orun-bench-daemon

. bench/lib.sh
cargo build --release -q -p orun
orun=$PWD/target/release/orun

work=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  remove_environments "$environment"
  rm -rf "$work"
}
trap cleanup EXIT

build_web_image "$image" "$work/image"

init_origin
write_deployment() { # NAME PORT REVISION
  cat > "$work/work/deployments/$1.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: $1
spec:
  image: $image
  ports:
    - containerPort: 80
      port: $2
      hostIP: 127.0.0.1
  env:
    REVISION: "$3"
  stopTimeout: 1s
YAML
}
for i in $(seq -w 1 $count); do write_deployment "svc-$i" $((base_port + 10#$i)) 0; done
g add -A && g commit -qm "20 deployments" && g push -q origin main

status_port=$(free_port)
cat > "$work/node.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Node
metadata:
  name: bench
spec:
  host: 127.0.0.1
  gitRepo: $work/origin.git
  pollInterval: ${poll}s
  dataDir: $work/state
  environment: $environment
YAML
"$orun" start --config "$work/node.yaml" --status-addr 127.0.0.1 --status-port "$status_port" --log-format json > "$work/orun.log" 2>&1 &
pid=$!

running() { docker ps -q --filter "label=run.orcra.dev/environment=$environment" | wc -l; }
for _ in $(seq 1 120); do [ "$(running)" -eq $count ] && break; sleep 1; done
[ "$(running)" -eq $count ] || { echo "the node did not start all $count deployments"; tail -20 "$work/orun.log"; exit 1; }

# Idle: let start-up settle, then measure CPU over the idle window.
sleep 10
ticks_per_second=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
before=$(cpu_ticks)
sleep "$idle_seconds"
after=$(cpu_ticks)
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
cpu_seconds=$(echo "($after - $before) / $ticks_per_second" | bc -l)
idle_ticks=$((idle_seconds / poll))
cpu_percent=$(echo "100 * $cpu_seconds / $idle_seconds" | bc -l)
cpu_ms_per_tick=$(echo "1000 * $cpu_seconds / $idle_ticks" | bc -l)

# Latency: commit an env change of one deployment, time until its container runs with it.
latencies=()
for n in $(seq 1 $commits); do
  i=$(printf '%02d' $(( (n - 1) % count + 1 )))
  write_deployment "svc-$i" $((base_port + 10#$i)) "$n"
  g add -A && g commit -qm "revision $n"
  start=$(date +%s.%N)
  g push -q origin main
  until docker inspect "$environment.svc-$i" --format '{{.State.Running}} {{join .Config.Env " "}}' 2>/dev/null | grep -q "^true .*REVISION=$n\b"; do
    sleep 0.1
  done
  end=$(date +%s.%N)
  latencies+=("$(echo "$end - $start" | bc -l)")
done
median=$(printf '%s\n' "${latencies[@]}" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
worst=$(printf '%s\n' "${latencies[@]}" | sort -n | tail -1)

echo
echo "$count deployments, pollInterval ${poll}s, ${idle_seconds}s idle window, $commits commits"
echo
echo "| measurement | result | target |"
echo "|---|---:|---:|"
printf '| idle resident memory | %.1f MB | < 30 MB |\n' "$(echo "$rss_kb / 1024" | bc -l)"
printf '| idle CPU | %.2f%% of one core (%.1f ms per %ss tick) | < 1%% |\n' "$cpu_percent" "$cpu_ms_per_tick" "$poll"
printf '| commit to running, median of %d | %.2f s (worst %.2f s) | <= %d s (poll + 2 s) |\n' "$commits" "$median" "$worst" $((poll + 2))
