# Shared by the bench scripts (sourced, not run): the busybox web image they deploy, the 20
# deployments of the apply benches, a local Git remote, free ports, cleanup of an environment's
# containers, timing and medians, and the rollout benches' node, load and request table.

# Builds IMAGE in the folder DIR: static busybox serving /www (with /www/health) through httpd.
build_web_image() { # IMAGE DIR
  [ -x /bin/busybox ] || { echo "/bin/busybox is required (apt-get install busybox-static)"; exit 1; }
  mkdir -p "$2/www"
  cp /bin/busybox "$2/busybox"
  echo ok > "$2/www/health"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENTRYPOINT ["/bin/busybox"]\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n' > "$2/Dockerfile"
  docker build -q -t "$1" "$2" >/dev/null 2>&1 || { echo "building $1 failed"; exit 1; }
}

# Writes REPO/deployments/svc-NN.yaml for NN in 01..COUNT: IMAGE publishing 80 on
# 127.0.0.1:BASE_PORT+NN, with two env values.
write_deployments() { # REPO COUNT BASE_PORT IMAGE
  mkdir -p "$1/deployments"
  local i
  for i in $(seq -w 1 "$2"); do
    cat > "$1/deployments/svc-$i.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: svc-$i
spec:
  image: $4
  ports:
    - containerPort: 80
      port: $(($3 + 10#$i))
      hostIP: 127.0.0.1
  env:
    SERVICE: svc-$i
    LOG_LEVEL: info
YAML
  done
}

# A bare remote at $work/origin.git and its clone at $work/work with an empty deployments/ folder.
init_origin() {
  git init -q --bare -b main "$work/origin.git"
  git init -q -b main "$work/work"
  g remote add origin "$work/origin.git"
  mkdir -p "$work/work/deployments"
}

# Git in the clone at $work/work, as the bench's author.
g() { git -C "$work/work" -c user.name=bench -c user.email=bench@orun.invalid "$@"; }

# The orun binary to bench: $ORUN, a binary built elsewhere, else the release build, built now.
release_orun() {
  if [ -n "${ORUN:-}" ]; then
    echo "$ORUN"
    return
  fi
  cargo build --release -q -p orun
  echo "$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/orun"
}

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Removes every container orun made for each ENVIRONMENT.
remove_environments() { # ENVIRONMENT...
  local env ids
  for env in "$@"; do
    ids=$(docker ps -aq --filter "label=run.orcra.dev/environment=$env")
    [ -z "$ids" ] || docker rm -f $ids >/dev/null
  done
}

# Seconds taken by "$@"; fails when it fails (a command substitution does not inherit set -e).
timed() {
  local start end
  start=$(date +%s.%N)
  "$@" || return
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

# The median of the numbers on standard input, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The rollout benches' pieces: a versioned busybox deployment behind a Service, a node daemon with
# Caddy, waiting for a commit to be applied and routed, steady load through Caddy, and the table
# of what happened to the requests during the rollouts. They work in $work and use $orun.

# Writes deployment NAME serving VERSION at /version (ready there), with ROLLOUT and REPLICAS.
write_versioned_deployment() { # NAME ROLLOUT VERSION [REPLICAS]
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
  replicas: ${4:-1}
  stopTimeout: 1s
  health:
    readiness:
      http: localhost:80/version
      interval: 200ms
      deadline: 30s
YAML
}

# Writes Service NAME for deployment NAME at NAME.<env>.bench.invalid.
write_service() { # NAME
  mkdir -p "$work/work/services"
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

# Starts `orun start` for $work/origin.git in ENVIRONMENT, with Caddy on a free port; sets
# status_port, http_port and pid.
start_bench_node() { # ENVIRONMENT
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
  environment: $1
YAML
  "$orun" start --config "$work/node.yaml" --status-addr 127.0.0.1 --status-port "$status_port" \
    --ingress-http-port "$http_port" --ingress-https-port "$(free_port)" \
    --log-format json > "$work/orun.log" 2>&1 &
  pid=$!
}

# Waits until the node applied COMMIT and routes every Service NAME to all its replicas.
wait_applied() { # COMMIT NAME...
  local commit=$1 _
  shift
  for _ in $(seq 1 1200); do
    # Before the status API answers, there is no document to read.
    curl -s "http://127.0.0.1:$status_port/status" 2>/dev/null | python3 2>/dev/null -c '
import json, sys
status = json.load(sys.stdin)
commit, names = sys.argv[1], sys.argv[2:]
services, deployments = status.get("services", {}), status.get("deployments", {})
routed = all(services.get(name, {}).get("active") and len(services[name].get("upstreams", []))
             == deployments.get(name, {}).get("replicas") for name in names)
sys.exit(0 if status["node"].get("applied_commit") == commit and routed else 1)' "$commit" "$@" \
      && return 0
    sleep 0.1
  done
  echo "commit $commit was not applied and routed in 120 s"; tail -20 "$work/orun.log"; exit 1
}

# Steady load: one thread per Service NAME sending GET /version through Caddy back to back,
# logging start time, latency and success to $work/requests.NAME until $work/stop exists;
# CONNECTIONS is `fresh` (one per request) or `keepalive`. Sets load_pid.
start_load() { # CONNECTIONS NAME...
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
           for name in sys.argv[6:]]
for t in threads: t.start()
for t in threads: t.join()
PY
  local connections=$1
  shift
  python3 "$work/load.py" "$http_port" "$environment" "$work/stop" "$work/requests" "$connections" "$@" &
  load_pid=$!
}

# Rolls out $rollouts commits, each writing its files with WRITE VERSION, then stops the load.
# A rollout's window, recorded in $work/windows, runs from the push until 1 s after the node
# reported the commit applied and every Service NAME routed to all its replicas (the routes of a
# stop-first rollout of one container are loaded right after the pass).
run_rollouts() { # WRITE NAME...
  local write=$1 n start
  shift
  : > "$work/windows"
  for n in $(seq 1 "$rollouts"); do
    "$write" "$n"
    g add -A && g commit -qm "version $n"
    start=$(date +%s.%N)
    g push -q origin main
    wait_applied "$(g rev-parse HEAD)" "$@"
    sleep 1
    echo "$start $(date +%s.%N)" >> "$work/windows"
  done
  touch "$work/stop"
  wait "$load_pid"
  load_pid=
}

# One table row per Service NAME (shown as LABEL) of the requests sent in the windows of
# $work/windows: how many, how many failed, p50 and p99 latency (failed requests included), and
# the p99 against the first row's, the baseline.
report_requests() { # NAME LABEL [NAME LABEL]...
  python3 - "$work" "$@" <<'PY'
import sys
work, pairs = sys.argv[1], sys.argv[2:]
windows = [tuple(map(float, line.split())) for line in open(f"{work}/windows")]
baseline = None
for name, label in zip(pairs[::2], pairs[1::2]):
    rows = [line.split() for line in open(f"{work}/requests.{name}")]
    during = [(float(latency), ok == "1") for start, latency, ok in rows
              if any(a <= float(start) <= b for a, b in windows)]
    latencies = sorted(latency for latency, _ in during)
    def percentile(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
    failed = sum(1 for _, ok in during if not ok)
    p99 = percentile(0.99)
    baseline = baseline or p99 or 1.0
    print(f"| {label} | {len(during)} | {failed} | {percentile(0.50):.1f} ms | {p99:.1f} ms | {p99 / baseline:.2f}× |")
PY
}

# The start of a rollout bench: ROLLOUTS (default 5) and CONNECTIONS (`fresh`, the default, or
# `keepalive`) from its arguments, the release binary as $orun, $work, the versioned web image as
# $image, and on exit the load, the node and ENVIRONMENT's containers stopped and $work removed.
start_rollout_bench() { # ENVIRONMENT [ROLLOUTS] [CONNECTIONS]
  environment=$1
  rollouts=${2:-5}
  connections=${3:-fresh}
  case "$connections" in fresh|keepalive) ;; *) echo "CONNECTIONS must be fresh or keepalive, not $connections"; exit 1;; esac
  image=orun-bench/versioned:1
  command -v caddy >/dev/null || { echo "caddy is required (apt-get install caddy)"; exit 1; }
  cargo build --release -q -p orun
  orun=${CARGO_TARGET_DIR:-$PWD/target}/release/orun
  work=$(mktemp -d)
  pid=
  load_pid=
  trap stop_rollout_bench EXIT
  # Static busybox serving its VERSION at /version through httpd.
  build_web_image "$image" "$work/image"
}

stop_rollout_bench() {
  [ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  remove_environments "$environment"
  rm -rf "$work"
}
