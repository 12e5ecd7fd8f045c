#!/usr/bin/env bash
# Measures what a Caddy config reload does to connections arriving meanwhile, with the kernel's
# listener handover (net.ipv4.tcp_migrate_req, which orun turns on when it starts Caddy) off as the
# baseline and then on. Runs Caddy bare on a loopback port, sends back-to-back requests on fresh
# connections from 4 threads, and loads a changed config RELOADS times. Prints resets for each
# setting and their ratio, then restores the setting it found. Needs root.
#
# Usage: bench/caddy-reloads.sh [RELOADS]
#   RELOADS  default 200
set -euo pipefail
cd "$(dirname "$0")/.."

reloads=${1:-200}
switch=/proc/sys/net/ipv4/tcp_migrate_req
command -v caddy >/dev/null || { echo "caddy is required (apt-get install caddy)"; exit 1; }
[ -w "$switch" ] || { echo "$switch must exist (Linux 5.14+) and be writable (root)"; exit 1; }

work=$(mktemp -d)
found=$(cat "$switch")
cleanup() {
  echo "$found" > "$switch"
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/reloads.py" <<'PY'
import http.client, json, socket, subprocess, sys, threading, time

work, reloads = sys.argv[1], int(sys.argv[2])
admin = f"{work}/admin.sock"
probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()

def config(body):
    return json.dumps({
        "admin": {"listen": f"unix/{admin}", "config": {"persist": False}},
        "apps": {"http": {"http_port": port, "servers": {"bench": {
            "listen": [f":{port}"], "automatic_https": {"disable": True},
            "routes": [{"handle": [{"handler": "static_response", "body": body}]}]}}}}})

class Admin(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(admin)

def load(body):
    data = config(body).encode()
    connection = Admin("localhost")
    # Caddy serves its unix socket only to requests with an empty Host.
    connection.putrequest("POST", "/load", skip_host=True)
    connection.putheader("Host", "")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(data)))
    connection.endheaders(data)
    response = connection.getresponse()
    response.read()
    assert response.status == 200, f"caddy refused the config: {response.status}"

with open(f"{work}/caddy.json", "w") as file:
    file.write(config("v0"))
caddy = subprocess.Popen(["caddy", "run", "--config", f"{work}/caddy.json"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.time() + 15
while True:
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("caddy did not start")
        time.sleep(0.1)

stop = threading.Event()
ok, resets, other = [0], [0], []
lock = threading.Lock()

def client():
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
                response = b""
                while chunk := sock.recv(4096):
                    response += chunk
            with lock:
                if b" 200 " in response.split(b"\r\n", 1)[0]:
                    ok[0] += 1
                else:
                    other.append(response[:40])
        except ConnectionResetError:
            with lock:
                resets[0] += 1
        except OSError as error:
            with lock:
                other.append(repr(error))

threads = [threading.Thread(target=client) for _ in range(4)]
for thread in threads:
    thread.start()
try:
    for reload in range(reloads):
        load(f"v{reload + 1}")
        time.sleep(0.05)
finally:
    stop.set()
    for thread in threads:
        thread.join()
    caddy.terminate()
    caddy.wait()
print(f"{ok[0]} {resets[0]} {len(other)}")
PY

declare -A result
for setting in 0 1; do
  echo "$setting" > "$switch"
  read -r ok resets other < <(python3 "$work/reloads.py" "$work" "$reloads")
  result[$setting]=$resets
  echo "tcp_migrate_req=$setting: $reloads reloads, $ok requests answered, $resets reset, $other other failures"
done
python3 -c "import sys; off, on = map(int, sys.argv[1:]); print(f'resets with the handover: {on} against {off} without ({on / off:.3f}x)' if off else f'resets with the handover: {on}; none without either')" "${result[0]}" "${result[1]}"
