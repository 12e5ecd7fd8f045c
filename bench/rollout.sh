#!/usr/bin/env bash
# Runs a release-build `orun start` with Caddy and two deployments behind Services, one rolled out
# start-first and one stop-first (the baseline), and sends steady load through Caddy to both while
# N commits roll both out. Prints, per strategy, the requests sent during the rollouts, how many
# failed, and their p50/p99 latency (failed requests included).
#
# Usage: bench/rollout.sh [ROLLOUTS] [CONNECTIONS]
#   ROLLOUTS     default 5
#   CONNECTIONS  `fresh` (default): one connection per request; `keepalive`: one connection per
#                client, reused, with no retry when Caddy closes it (a new one is opened after)
set -euo pipefail
cd "$(dirname "$0")/.."

rollouts=${1:-5}
connections=${2:-fresh}
case "$connections" in fresh|keepalive) ;; *) echo "CONNECTIONS must be fresh or keepalive, not $connections"; exit 1;; esac
image=orun-bench/versioned:1
environment=orun-bench-rollout

command -v caddy >/dev/null || { echo "caddy is required (apt-get install caddy)"; exit 1; }
. bench/lib.sh
cargo build --release -q -p orun
orun=${CARGO_TARGET_DIR:-$PWD/target}/release/orun

work=$(mktemp -d)
pid=
load_pid=
cleanup() {
  [ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  remove_environments "$environment"
  rm -rf "$work"
}
trap cleanup EXIT

# Static busybox serving its VERSION at /version through httpd.
build_web_image "$image" "$work/image"

init_origin
mkdir -p "$work/work/services"
write_deployment() { # NAME ROLLOUT VERSION
  cat > "$work/work/deployments/$1.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: $1
spec:
  image: $image
  command: ["sh", "-c", "echo \$VERSION > /www/version && exec /bin/busybox httpd -f -p 80 -h /www"]
  env:
    VERSION: "$3"
  rollout: $2
  stopTimeout: 1s
  health:
    readiness:
      http: localhost:80/version
      interval: 200ms
      deadline: 30s
YAML
}
write_service() { # NAME
  cat > "$work/work/services/$1.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Service
metadata:
  name: $1
spec:
  deployment: $1
  port: 80
  ingress:
    domain:
      default: $1.bench.invalid
      environment: $1.\$ENV.bench.invalid
YAML
}
write_deployment startfirst startFirst 0
write_deployment stopfirst stopFirst 0
write_service startfirst
write_service stopfirst
g add -A && g commit -qm "version 0" && g push -q origin main

status_port=$(free_port)
http_port=$(free_port)
cat > "$work/node.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Node
metadata:
  name: bench
spec:
  host: 127.0.0.1
  gitRepo: $work/origin.git
  pollInterval: 1s
  dataDir: $work/state
  environment: $environment
YAML
"$orun" start --config "$work/node.yaml" --status-addr 127.0.0.1 --status-port "$status_port" \
  --ingress-http-port "$http_port" --ingress-https-port "$(free_port)" \
  --log-format json > "$work/orun.log" 2>&1 &
pid=$!

# `applied_commit` of the node and whether both Services are routed, from the status API.
status_field() {
  curl -s "http://127.0.0.1:$status_port/status" | python3 -c '
import json, sys
status = json.load(sys.stdin)
services = status.get("services", {})
active = all(services.get(name, {}).get("active") for name in ("startfirst", "stopfirst"))
print(status["node"].get("applied_commit") or "", "active" if active else "inactive")'
}
wait_applied() { # COMMIT
  for _ in $(seq 1 600); do
    [ "$(status_field 2>/dev/null)" = "$1 active" ] && return 0
    sleep 0.1
  done
  echo "commit $1 was not applied and routed in 60 s"; tail -20 "$work/orun.log"; exit 1
}
wait_applied "$(g rev-parse HEAD)"

# Load: one thread per Service, each sending GET /version through Caddy back to back, logging
# start time, latency, and success until $work/stop exists.
cat > "$work/load.py" <<'PY'
import http.client, sys, threading, time, os
port, environment, stop, out, keepalive = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "keepalive"
def run(host, log):
    connection = None
    with open(log, "w") as f:
        while not os.path.exists(stop):
            start = time.time()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", "/version", headers={"Host": host})
                response = connection.getresponse()
                body = response.read()
                ok = response.status == 200 and body.strip() != b""
                if not keepalive or response.will_close:
                    connection.close()
                    connection = None
            except Exception:
                ok = False
                connection.close()
                connection = None
            f.write(f"{start:.6f} {time.time() - start:.6f} {int(ok)}\n")
threads = [threading.Thread(target=run, args=(f"{name}.{environment}.bench.invalid", f"{out}.{name}"))
           for name in ("startfirst", "stopfirst")]
for t in threads: t.start()
for t in threads: t.join()
PY
python3 "$work/load.py" "$http_port" "$environment" "$work/stop" "$work/requests" "$connections" &
load_pid=$!
sleep 2

# Each rollout changes VERSION of both deployments in one commit; its window runs from the push
# until 1 s after the node reported the commit applied and both routes active (the routes of a
# stop-first rollout are loaded right after the pass).
: > "$work/windows"
for n in $(seq 1 "$rollouts"); do
  write_deployment startfirst startFirst "$n"
  write_deployment stopfirst stopFirst "$n"
  g add -A && g commit -qm "version $n"
  start=$(date +%s.%N)
  g push -q origin main
  wait_applied "$(g rev-parse HEAD)"
  sleep 1
  echo "$start $(date +%s.%N)" >> "$work/windows"
done
touch "$work/stop"
wait "$load_pid"
load_pid=

echo
echo "$rollouts rollouts of both deployments through Caddy, steady load (one client per Service, back to back, $connections connections)"
echo
echo "| rollout | requests during rollouts | failed | p50 latency | p99 latency |"
echo "|---|---:|---:|---:|---:|"
for name in startfirst stopfirst; do
  python3 - "$work/windows" "$work/requests.$name" "$name" <<'PY'
import sys
windows = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
rows = [line.split() for line in open(sys.argv[2])]
during = [(float(latency), ok == "1") for start, latency, ok in rows
          if any(a <= float(start) <= b for a, b in windows)]
latencies = sorted(latency for latency, _ in during)
def percentile(p):
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
failed = sum(1 for _, ok in during if not ok)
label = {"startfirst": "startFirst", "stopfirst": "stopFirst (baseline)"}[sys.argv[3]]
print(f"| {label} | {len(during)} | {failed} | {percentile(0.50):.1f} ms | {percentile(0.99):.1f} ms |")
PY
done
