#!/usr/bin/env bash
# Times `orun fleet plan` over N nodes (default 20) against one `orun plan` of one node, in the
# same run. The nodes are real `orun start` daemons on this machine, each with its own
# environment and status port, running the same DEPLOYMENTS (default 3) busybox httpd
# deployments; the working tree then changes one deployment's env, so every node's plan has a
# recreate. Three measurements alternate in each run, each from process start to exit:
#
#   - `orun fleet plan` against the live daemons: every node observes its Docker for `/observed`
#     (here all of them share this machine's one Docker engine, which a real fleet does not);
#   - `orun fleet plan` against recorded snapshots: each node's `/observed`, saved once, served by
#     one small HTTP server on N ports, so only the command's own work is timed (resolving N
#     shares, N fetches, N plans, the output);
#   - `orun plan --node node-01` against the local Docker engine: resolving one share, observing,
#     planning.
#
# Prints medians and each fleet figure's ratio to the one plan.
#
# Usage: [ORUN=PATH] bench/fleet-plan.sh [NODES] [DEPLOYMENTS] [RUNS]    (default 20 3 10)
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=${1:-20}
deployments=${2:-3}
runs=${3:-10}
environment_prefix=orun-bench-fplan
image=orun-bench/web:1

. bench/lib.sh
orun=$(release_orun)

work=$(mktemp -d)
pids=()
environments=()
for i in $(seq -f '%02g' 1 "$nodes"); do environments+=("$environment_prefix-$i"); done
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  remove_environments "${environments[@]}"
  for env in "${environments[@]}"; do docker network rm "orun-$env" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

build_web_image "$image" "$work/image"
init_origin

node_manifest() { # INDEX STATUS_PORT
  cat <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Node
metadata:
  name: node-$1
spec:
  host: 127.0.0.1
  gitRepo: $work/origin.git
  pollInterval: 60s
  dataDir: $work/node-$1
  environment: $environment_prefix-$1
  statusAddr: 127.0.0.1:$2
YAML
}

deployment() { # INDEX LOG_LEVEL
  cat <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: svc-$1
spec:
  image: $image
  env:
    SERVICE: svc-$1
    LOG_LEVEL: $2
  stopTimeout: 1s
YAML
}

mkdir -p "$work/work/nodes"
status_ports=()
for i in $(seq -f '%02g' 1 "$nodes"); do
  port=$(free_port)
  status_ports+=("$port")
  node_manifest "$i" "$port" > "$work/work/nodes/node-$i.yaml"
done
for i in $(seq -f '%02g' 1 "$deployments"); do deployment "$i" info > "$work/work/deployments/svc-$i.yaml"; done
g add -A
g commit -qm "$nodes nodes, $deployments deployments"
g push -q origin main
commit=$(g rev-parse HEAD)

for i in $(seq -f '%02g' 1 "$nodes"); do
  mkdir -p "$work/node-$i"
  cp "$work/work/nodes/node-$i.yaml" "$work/node-$i/node.yaml"
  "$orun" start --config "$work/node-$i/node.yaml" --status-addr 127.0.0.1 \
    --status-port "${status_ports[$((10#$i - 1))]}" --log-format json > "$work/node-$i.log" 2>&1 &
  pids+=($!)
done

# Every node applied the commit and every deployment is ready.
settled() { # PORT
  curl -s --noproxy '*' "http://127.0.0.1:$1/status" | python3 -c '
import json, sys
status = json.load(sys.stdin)
deployments = status["deployments"].values()
sys.exit(0 if status["node"]["applied_commit"] == sys.argv[1] and len(deployments) == int(sys.argv[2])
         and all(d["ready"] for d in deployments) else 1)' "$commit" "$deployments" 2>/dev/null
}
for port in "${status_ports[@]}"; do
  for _ in $(seq 1 600); do settled "$port" && break; sleep 0.5; done
  settled "$port" || { echo "the node on port $port did not settle:"; tail -5 "$work"/node-*.log; exit 1; }
done

# The change under review: one deployment's env, in the working tree only.
deployment 01 debug > "$work/work/deployments/svc-01.yaml"

# The recorded snapshots, each served on a port of its own, and a copy of the working tree whose
# nodes point there.
mkdir -p "$work/recorded"
cp -r "$work/work" "$work/recorded-work"
served=()
for i in $(seq -f '%02g' 1 "$nodes"); do
  curl -sf --noproxy '*' "http://127.0.0.1:${status_ports[$((10#$i - 1))]}/observed" > "$work/recorded/node-$i.json"
  port=$(free_port)
  served+=("$port=$work/recorded/node-$i.json")
  sed -i "s/statusAddr: .*/statusAddr: 127.0.0.1:$port/" "$work/recorded-work/nodes/node-$i.yaml"
done
python3 - "${served[@]}" <<'PY' &
import http.server, sys, threading

def server(port, path):
    body = open(path, "rb").read()

    class Snapshot(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Snapshot)

servers = [server(*pair.split("=", 1)) for pair in sys.argv[1:]]
for each in servers[1:]:
    threading.Thread(target=each.serve_forever, daemon=True).start()
servers[0].serve_forever()
PY
pids+=($!)
first_served=${served[0]%%=*}
for _ in $(seq 1 50); do curl -sf --noproxy '*' "http://127.0.0.1:$first_served/observed" >/dev/null && break; sleep 0.1; done

quiet() { "$@" > /dev/null; }
fleet_live=()
fleet_recorded=()
one_plan=()
for _ in $(seq 1 "$runs"); do
  fleet_live+=("$(timed quiet "$orun" fleet plan --repo "$work/work")")
  fleet_recorded+=("$(timed quiet "$orun" fleet plan --repo "$work/recorded-work")")
  one_plan+=("$(timed quiet "$orun" plan --repo "$work/work" --node node-01)")
done
# Every node's plan has the recreate: the runs above timed real plans.
"$orun" fleet plan --repo "$work/work" --output json | python3 -c '
import json, sys
document = json.load(sys.stdin)
assert all(node["plan"]["summary"]["recreate"] == 1 for node in document["nodes"]), document' \
  || { echo "the fleet plan is not the expected one"; exit 1; }

median_of() { printf '%s\n' "$@" | median; }
live=$(median_of "${fleet_live[@]}")
recorded=$(median_of "${fleet_recorded[@]}")
one=$(median_of "${one_plan[@]}")
echo "$nodes nodes, $deployments deployments each, $runs runs, medians in seconds"
echo
echo "| measurement | seconds | ratio to one orun plan |"
echo "|---|---:|---:|"
printf '| orun fleet plan, %s live nodes | %.3f | %.2f× |\n' "$nodes" "$live" "$(echo "$live / $one" | bc -l)"
printf '| orun fleet plan, %s recorded snapshots | %.3f | %.2f× |\n' "$nodes" "$recorded" "$(echo "$recorded / $one" | bc -l)"
printf '| orun plan --node node-01 (local Docker) | %.3f | 1.00× |\n' "$one"
