#!/usr/bin/env bash
# Runs N node daemons (default 20) against one `git daemon` on this machine, every node with its
# own environment, data folder and status port and no deployments, and reports what the Git host
# pays: the CPU of the git daemon's process tree per poll (utime+stime+cutime+cstime from /proc,
# so the upload-pack children it reaps count), each node's resident memory, and how poll times
# spread (from the nodes' `git poll` debug log lines). The last line extrapolates to 1,000 nodes.
#
# Usage: [ORUN=PATH] bench/fleet.sh [NODES] [SECONDS] [POLL_INTERVAL_SECONDS]    (default 20 60 5)
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=${1:-20}
window=${2:-60}
poll=${3:-5}
environment_prefix=orun-bench-fleet

command -v git >/dev/null || { echo "git is required" >&2; exit 1; }
. bench/lib.sh
orun=$(release_orun)

work=$(mktemp -d)
pids=()
git_pid=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -z "$git_pid" ] || kill "$git_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

git_port=$(free_port)
git init -q --bare -b main "$work/infra.git"
# git-daemon itself, not the `git` wrapper that would run it as a child: the children it reaps
# (one per fetch) are what its cutime and cstime add up.
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --base-path="$work" --listen=127.0.0.1 --port="$git_port" "$work" 2>"$work/git-daemon.log" &
git_pid=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$git_port") 2>/dev/null && break
  sleep 0.1
done
url=git://127.0.0.1:$git_port/infra.git

node_manifest() { # INDEX
  cat <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Node
metadata:
  name: node-$1
spec:
  host: 127.0.0.1
  gitRepo: $url
  pollInterval: ${poll}s
  dataDir: $work/node-$1
  environment: $environment_prefix-$1
  allowEmpty: true
YAML
}

git init -q -b main "$work/work"
mkdir -p "$work/work/nodes"
for i in $(seq -w 1 "$nodes"); do node_manifest "$i" > "$work/work/nodes/node-$i.yaml"; done
g add -A
g commit -qm "$nodes nodes"
g push -q "$work/infra.git" main

status_ports=()
for i in $(seq -w 1 "$nodes"); do
  mkdir -p "$work/node-$i"
  node_manifest "$i" > "$work/node-$i/node.yaml"
  port=$(free_port)
  status_ports+=("$port")
  RUST_LOG=info,node::poller=debug "$orun" start --allow-insecure-transport --config "$work/node-$i/node.yaml" \
    --status-addr 127.0.0.1 --status-port "$port" --log-format json > "$work/node-$i.log" 2>&1 &
  pids+=($!)
done

polls_total() {
  local sum=0 port count
  for port in "${status_ports[@]}"; do
    count=$(curl -s --noproxy '*' "http://127.0.0.1:$port/metrics" | awk '/^orun_git_polls_total / { print $2 }')
    sum=$((sum + ${count:-0}))
  done
  echo "$sum"
}
server_ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$git_pid/stat"; }

# Let every node clone and settle before measuring.
sleep $((poll * 2))
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "a node exited early:"; tail -5 "$work"/node-*.log; exit 1; }
done
ticks_before=$(server_ticks)
polls_before=$(polls_total)
window_start=$(date -u +%Y-%m-%dT%H:%M:%S)
sleep "$window"
window_end=$(date -u +%Y-%m-%dT%H:%M:%S)
polls_after=$(polls_total)
ticks_after=$(server_ticks)
rss_kb=()
for pid in "${pids[@]}"; do rss_kb+=("$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")"); done

python3 - "$work" "$nodes" "$window" "$poll" "$(getconf CLK_TCK)" "$((ticks_after - ticks_before))" \
  "$((polls_after - polls_before))" "$window_start" "$window_end" "${rss_kb[@]}" <<'PY'
import glob, json, statistics, sys
work, nodes, window, poll, hz, ticks, polls, start, end = sys.argv[1:10]
nodes, window, poll, hz, ticks, polls = int(nodes), int(window), float(poll), int(hz), int(ticks), int(polls)
rss = sorted(int(kb) / 1024 for kb in sys.argv[10:])

intervals, fetches, offsets = [], [], []
for log in sorted(glob.glob(f"{work}/node-*.log")):
    times = []
    for line in open(log):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        stamp = event.get("timestamp", "")
        if event.get("message") != "git poll" or not (start <= stamp[:19] < end):
            continue
        seconds = int(stamp[11:13]) * 3600 + int(stamp[14:16]) * 60 + float(stamp[17:].rstrip("Z"))
        times.append(seconds)
        fetches.append(int(event.get("duration_ms", 0)))
    intervals += [b - a for a, b in zip(times, times[1:])]
    offsets += [t % poll for t in times]

def spread(values, unit, scale=1):
    if not values:
        return "no data"
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))] * scale
    return f"min {values[0] * scale:.0f} {unit}, median {pick(0.5):.0f} {unit}, p99 {pick(0.99):.0f} {unit}, max {values[-1] * scale:.0f} {unit}"

if polls == 0:
    sys.exit("no polls were counted in the window: see the nodes' logs")
cpu_seconds = ticks / hz
cpu_ms_per_poll = 1000 * cpu_seconds / polls
# One core is 1000 ms of CPU per second, so 1,000 nodes stay under one core while
# 1000 * cpu_ms_per_poll / interval_ms < 1, that is interval > cpu_ms_per_poll seconds.
min_interval_1000 = cpu_ms_per_poll
buckets = [0] * 10
for offset in offsets:
    buckets[min(9, int(offset / poll * 10))] += 1

print(f"{nodes} nodes, pollInterval {poll:g}s, {window}s window, {polls} polls, {ticks} server CPU ticks at {hz} Hz")
print()
print("| measurement | result |")
print("|---|---|")
print(f"| git server CPU per poll (process tree) | {cpu_ms_per_poll:.2f} ms |")
print(f"| git server CPU over the window | {100 * cpu_seconds / window:.1f}% of one core |")
print(f"| node resident memory | min {rss[0]:.1f} MB, median {statistics.median(rss):.1f} MB, max {rss[-1]:.1f} MB |")
print(f"| time between a node's polls | {spread(intervals, 'ms', 1000)} |")
print(f"| fetch duration | {spread(fetches, 'ms')} |")
print(f"| polls per tenth of the interval | {' '.join(str(b) for b in buckets)} |")
print()
print(f"1,000 nodes on one Git host stay under one core with pollInterval >= {min_interval_1000:.1f} s "
      f"({1000 / (poll):.0f} polls/s at {poll:g}s would need {1000 / poll * cpu_ms_per_poll / 10:.0f}% of one core)")
PY
