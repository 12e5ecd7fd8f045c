#!/usr/bin/env bash
# Compares `orun apply --once --node NODE` on a swarm node (`engine: swarm`) with
# `docker stack deploy` of the equivalent compose file (version 3: the same 20 services, local
# image, replicas and env, no published port, the same overlay network), both against the local
# swarm in this one run: cold (no service of either) and the no-op re-run. orun returns once Swarm
# runs every task; `docker stack deploy` returns once the services are created, so its cold start
# is timed twice: until it returns, and until `docker service ls` shows every service's replicas
# running (polled every 0.25 s, as orun polls each service it changed). For both, the cold start
# is also taken from Swarm's own timestamps (first service created to last task running), which
# neither tool's polling affects. Each goes first in every other run. Prints medians and the
# orun/stack ratios, and each run's cold figures on standard error.
#
# The overlay network `orun-<environment>` is made once before the runs (by a first orun apply)
# and kept until the end; the stack joins it as an external network, so neither tool's cold start
# includes creating it. Both stop tasks with a 1 s grace period, so that removing the services
# between runs is quick (busybox httpd as PID 1 ignores SIGTERM). The stack is deployed with
# `--resolve-image never`: the image is local, and orun does not ask a registry for its digest.
# If the engine is in no swarm, the bench makes one on 127.0.0.1 and leaves it at the end.
#
# Usage: [ORUN=PATH] bench/swarm.sh [RUNS] [REPLICAS]      (default 5 runs, 1 replica a service)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
replicas=${2:-1}
count=20
image=orun-bench/web:1
environment=orun-bench-swarm
network=orun-$environment
node=bench-swarm
stack=orunbenchswarm
orun_filter=label=run.orcra.dev/environment=$environment
stack_filter=label=com.docker.stack.namespace=$stack

. bench/lib.sh

# Removes orun's services of the environment and the stack, and waits until their tasks'
# containers are gone, so that no teardown runs during the next measurement.
remove_services() {
  local ids names _
  ids=$(docker service ls -q --filter "$orun_filter")
  [ -z "$ids" ] || docker service rm $ids >/dev/null
  docker stack rm "$stack" >/dev/null 2>&1 || true
  for _ in $(seq 1 600); do
    names=$(docker ps -a --format '{{.Label "com.docker.swarm.service.name"}}')
    grep -q -e "^${environment}_" -e "^${stack}_" <<<"$names" || return 0
    sleep 0.1
  done
  echo "the services' containers were not gone 60 s after their removal"
  exit 1
}

swarm_made=
work=$(mktemp -d)
finish() {
  (remove_services) || true
  # orun never removes its environment's network; the bench does, once the tasks have left it.
  local _
  for _ in $(seq 1 50); do
    docker network rm "$network" >/dev/null 2>&1 && break
    docker network inspect "$network" >/dev/null 2>&1 || break
    sleep 0.2
  done
  rm -rf "$work"
  [ -z "$swarm_made" ] || docker swarm leave --force >/dev/null
}
trap finish EXIT

case "$(docker info --format '{{.Swarm.LocalNodeState}}')" in
  active) ;;
  inactive) docker swarm init --advertise-addr 127.0.0.1 >/dev/null; swarm_made=1 ;;
  *) echo "the Docker engine is in a swarm it cannot act in (docker info: Swarm.LocalNodeState)"; exit 1 ;;
esac
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] \
  || { echo "the Docker engine is not a manager of its swarm"; exit 1; }

orun=$(release_orun)

# The image both run: static busybox serving a page with httpd.
build_web_image "$image" "$work/image"

mkdir -p "$work/repo/nodes" "$work/repo/deployments"
cat > "$work/repo/nodes/$node.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Node
metadata:
  name: $node
spec:
  host: 127.0.0.1
  gitRepo: https://git.invalid/bench.git
  dataDir: $work/state
  environment: $environment
  engine: swarm
YAML
{
  echo "version: '3.8'"
  echo "services:"
} > "$work/stack.yml"
for i in $(seq -w 1 $count); do
  cat > "$work/repo/deployments/svc-$i.yaml" <<YAML
apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: svc-$i
spec:
  image: $image
  replicas: $replicas
  stopTimeout: 1s
  env:
    SERVICE: svc-$i
    LOG_LEVEL: info
YAML
  cat >> "$work/stack.yml" <<YAML
  svc-$i:
    image: $image
    environment:
      SERVICE: svc-$i
      LOG_LEVEL: info
    stop_grace_period: 1s
    deploy:
      replicas: $replicas
    networks:
      - bench
YAML
done
cat >> "$work/stack.yml" <<YAML
networks:
  bench:
    external: true
    name: $network
YAML

# Whether `docker service ls` shows $count services matching FILTER, each with all its replicas
# running.
all_running() { # FILTER
  local lines
  lines=$(docker service ls --filter "$1" --format '{{.Replicas}}')
  [ "$(grep -c . <<<"$lines" || true)" -eq $count ] && ! grep -qv "^$replicas/$replicas\$" <<<"$lines"
}

orun_apply() { "$orun" apply --once --repo "$work/repo" --node "$node" >/dev/null; }
stack_deploy() {
  docker stack deploy --resolve-image never -c "$work/stack.yml" "$stack" > "$work/stack.log" 2>&1 \
    || { cat "$work/stack.log" >&2; exit 1; }
}

# Deploys the stack; sets deployed and running to the seconds until `docker stack deploy`
# returned and until every task ran.
stack_cold() {
  local start returned _
  start=$(date +%s.%N)
  stack_deploy
  returned=$(date +%s.%N)
  for _ in $(seq 1 480); do
    if all_running "$stack_filter"; then
      deployed=$(echo "$returned - $start" | bc -l)
      running=$(echo "$(date +%s.%N) - $start" | bc -l)
      return 0
    fi
    sleep 0.25
  done
  echo "the stack's tasks were not all running 120 s after it was deployed"
  exit 1
}

check() { # FILTER WHO
  all_running "$1" || { echo "$2 did not leave all $count services running"; exit 1; }
}

# Seconds from the first of the services matching FILTER being created to the last of their
# running tasks starting to run, by Swarm's own timestamps: the same span for both tools, whatever
# their polling.
swarm_span() { # FILTER
  python3 - "$1" <<'PY'
import datetime, json, subprocess, sys
def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout
def seconds(stamp):  # RFC 3339 with nanoseconds, in UTC
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + (fraction or "0"))
ids = docker("service", "ls", "-q", "--filter", sys.argv[1]).split()
services = json.loads(docker("service", "inspect", *ids))
tasks = json.loads(docker("inspect", *docker("service", "ps", "-q", "--filter", "desired-state=running", *ids).split()))
created = min(seconds(service["CreatedAt"]) for service in services)
print(f"{max(seconds(task['Status']['Timestamp']) for task in tasks) - created:.3f}")
PY
}

measure_orun() {
  orun_cold+=("$(timed orun_apply)")
  check "$orun_filter" "orun apply --once"
  orun_span+=("$(swarm_span "$orun_filter")")
  orun_noop+=("$(timed orun_apply)")
  check "$orun_filter" "the no-op orun apply --once"
  remove_services
}

measure_stack() {
  stack_cold
  stack_deployed+=("$deployed")
  stack_running+=("$running")
  stack_span+=("$(swarm_span "$stack_filter")")
  stack_noop+=("$(timed stack_deploy)")
  check "$stack_filter" "the no-op docker stack deploy"
  remove_services
}

# The environment's overlay network, made once by orun, as on a node that ran before.
remove_services
orun_apply
check "$orun_filter" "the first orun apply"
remove_services

orun_cold=() orun_span=() orun_noop=() stack_deployed=() stack_running=() stack_span=() stack_noop=()
for run in $(seq 1 "$runs"); do
  # Each goes first in every other run, so that neither always follows the other's teardown.
  if [ $((run % 2)) -eq 1 ]; then measure_orun; measure_stack; else measure_stack; measure_orun; fi
  printf 'run %s/%s: cold orun %.2f s (swarm %.2f s), stack %.2f s returned, %.2f s running (swarm %.2f s)\n' \
    "$run" "$runs" "${orun_cold[-1]}" "${orun_span[-1]}" "${stack_deployed[-1]}" "${stack_running[-1]}" \
    "${stack_span[-1]}" >&2
done

median_of() { printf '%s\n' "$@" | median; }
row() { # LABEL ORUN STACK FORMAT
  printf "| %s | $4 | $4 | %.2f× |\n" "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"
}
orun_cold_median=$(median_of "${orun_cold[@]}")

echo
echo "$count services of $replicas replica(s) on a swarm, $runs runs each, medians in seconds"
echo
echo "| measurement | orun apply --once | docker stack deploy | orun/stack |"
echo "|---|---:|---:|---:|"
row "cold, until the command returns" "$orun_cold_median" "$(median_of "${stack_deployed[@]}")" "%.2f"
row "cold, until every task runs" "$orun_cold_median" "$(median_of "${stack_running[@]}")" "%.2f"
row "cold, Swarm's span: first service created to last task running" "$(median_of "${orun_span[@]}")" \
  "$(median_of "${stack_span[@]}")" "%.2f"
row "no-op re-run" "$(median_of "${orun_noop[@]}")" "$(median_of "${stack_noop[@]}")" "%.3f"
