# Shared by the bench scripts (sourced, not run): the busybox web image they deploy, the 20
# deployments of the apply benches, a local Git remote, free ports, cleanup of an environment's
# containers, timing and medians.

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

# Seconds taken by "$@".
timed() {
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

# The median of the numbers on standard input, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
