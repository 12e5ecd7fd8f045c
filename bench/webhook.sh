#!/usr/bin/env bash
# Commit-to-running through the Git webhook: `orun start` (release build) with `pollInterval: 60s`
# and a webhook secret follows a local remote; each run commits an env change of one deployment,
# pushes, POSTs /hooks/git and times until the container runs with the new value. Prints the
# median and p90 and their parts from the node's JSON log (wake-up, fetch, validate and plan,
# Docker), next to the baseline measured in the same run: `orun apply --once` of the same change
# from a work tree, which has no Git and no webhook in it.
#
# Usage: bench/webhook.sh [RUNS]      (default 10)
#        ORUN=target/debug/orun bench/webhook.sh    (an orun binary already built, instead of a
#                                                    release build)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
image=orun-bench/web:1
environment=orun-bench-webhook
baseline_environment=orun-bench-webhook-base
secret=bench-webhook-secret

. bench/lib.sh
if [ -n "${ORUN:-}" ]; then
  orun=$(realpath "$ORUN")
else
  cargo build --release -q -p orun
  orun=$PWD/target/release/orun
fi

work=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  remove_environments "$environment" "$baseline_environment"
  rm -rf "$work"
}
trap cleanup EXIT

build_web_image "$image" "$work/image"

init_origin
write_deployment() { # REVISION
  cat > "$work/work/deployments/web.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: web
spec:
  image: $image
  env:
    REVISION: "$1"
  # What is timed is orun's path from push to a running container, not a graceful shutdown.
  rollout: stopFirst
  stopTimeout: 0s
YAML
}
write_deployment 0
g add -A && g commit -qm "web" && g push -q origin main

echo "$secret" > "$work/secret"
status_port=$(free_port)
cat > "$work/node.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Node
metadata:
  name: bench
spec:
  host: 127.0.0.1
  gitRepo: $work/origin.git
  pollInterval: 60s
  dataDir: $work/state
  environment: $environment
  webhookSecretFile: $work/secret
YAML
RUST_LOG=info,node::poller=debug "$orun" start --config "$work/node.yaml" \
  --status-addr 127.0.0.1 --status-port "$status_port" --log-format json > "$work/orun.log" 2>&1 &
pid=$!

running_with() { # ENVIRONMENT REVISION
  docker inspect "$1.web" --format '{{.State.Running}} {{join .Config.Env " "}}' 2>/dev/null | grep -q "^true .*REVISION=$2\b"
}
for _ in $(seq 1 600); do running_with "$environment" 0 && break; sleep 0.1; done
running_with "$environment" 0 || { echo "the node did not start web"; tail -20 "$work/orun.log"; exit 1; }
sleep 2

# Webhook runs: the hook's send time and the end time of each run, for the log parts below.
: > "$work/runs"
for n in $(seq 1 "$runs"); do
  write_deployment "$n"
  g add -A && g commit -qm "revision $n" && g push -q origin main
  start=$(date +%s.%N)
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $secret" \
    --data '{}' "http://127.0.0.1:$status_port/hooks/git")
  [ "$code" = 202 ] || { echo "the webhook answered $code"; exit 1; }
  until running_with "$environment" "$n"; do sleep 0.02; done
  end=$(date +%s.%N)
  echo "$n $start $end" >> "$work/runs"
  sleep 1
done

# Baseline: the same change applied from a work tree with `orun apply --once`.
cp -r "$work/work" "$work/base"
: > "$work/base-runs"
base_write() { sed -i "s/REVISION: .*/REVISION: \"$1\"/" "$work/base/deployments/web.yaml"; }
base_write 0
"$orun" apply --once --repo "$work/base" --environment "$baseline_environment" > /dev/null
for n in $(seq 1 "$runs"); do
  base_write "$n"
  start=$(date +%s.%N)
  "$orun" apply --once --repo "$work/base" --environment "$baseline_environment" > /dev/null
  until running_with "$baseline_environment" "$n"; do sleep 0.02; done
  end=$(date +%s.%N)
  echo "$n $start $end" >> "$work/base-runs"
done

python3 - "$work/orun.log" "$work/runs" "$work/base-runs" "$runs" <<'PY'
import json, sys
from datetime import datetime

log_path, runs_path, base_path, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def seconds(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()

events = []
for line in open(log_path):
    try:
        events.append(json.loads(line))
    except ValueError:
        pass

def quantile(values, q):
    values = sorted(values)
    index = q * (len(values) - 1)
    low = int(index)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (index - low)

parts = {"total": [], "wake": [], "fetch": [], "validate and plan": [], "docker": []}
for line in open(runs_path):
    n, start, end = line.split()
    start, end = float(start), float(end)
    window = [e for e in events if start <= seconds(e["timestamp"]) <= end + 2]
    fetched = next(e for e in window if e.get("message") == "git poll")
    plan = next(e for e in window if e.get("message") == "plan")
    action = next(e for e in window if e.get("message") == "action" and e.get("kind") == "recreate")
    fetch_end = seconds(fetched["timestamp"])
    fetch = fetched["duration_ms"] / 1000
    parts["total"].append(end - start)
    parts["wake"].append(fetch_end - fetch - start)
    parts["fetch"].append(fetch)
    parts["validate and plan"].append(seconds(plan["timestamp"]) - fetch_end)
    parts["docker"].append(action["duration_ms"] / 1000)

baseline = [float(end) - float(start) for _, start, end in (line.split() for line in open(base_path))]
median = quantile(parts["total"], 0.5)
print()
print(f"pollInterval 60s, {runs} commits, each announced with POST /hooks/git")
print()
print("| part | median | p90 |")
print("|---|---:|---:|")
for name, values in parts.items():
    print(f"| {name} | {quantile(values, 0.5):.3f} s | {quantile(values, 0.9):.3f} s |")
print(f"| baseline: orun apply --once of the same change | {quantile(baseline, 0.5):.3f} s | {quantile(baseline, 0.9):.3f} s |")
print()
print(f"webhook commit-to-running / apply --once: {median / quantile(baseline, 0.5):.2f}x (target: median < 1.5 s: {'met' if median < 1.5 else 'NOT met'})")
PY
