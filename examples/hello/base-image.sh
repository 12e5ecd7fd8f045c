#!/bin/sh
# Builds localhost/orun-hello-busybox, the base image of the example's build context: the host's
# static busybox (apt-get install busybox-static) in an otherwise empty image, so the quick start
# needs no registry and no binary is kept in Git. scripts/install runs it; safe to run again.
set -eu
[ -x /bin/busybox ] || { echo "/bin/busybox is required (apt-get install busybox-static)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp /bin/busybox "$dir/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\n' > "$dir/Dockerfile"
# The builder's output (and the legacy builder's deprecation notice) only matters when it fails.
if ! output=$(docker build -q -t localhost/orun-hello-busybox "$dir" 2>&1); then
  echo "$output" >&2
  exit 1
fi
echo "built localhost/orun-hello-busybox"
