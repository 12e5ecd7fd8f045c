"""The visit counter of the two-tier example: a small HTTP server that counts visits in Redis.

It uses only the modules of Debian's python3-minimal (socket, threading, os, signal), so the image
needs no pip and no full standard library: Redis is spoken to in raw RESP over a socket. It is a
demonstration, not a web framework: one thread per connection, HTTP/1.0, no keep-alive.

    GET /        counts the visit and greets with the total
    GET /count   the total alone, without counting
    GET /health  200 once Redis answers and holds the schema this version needs, 503 otherwise

`python3 app.py migrate` is the migration the `migrate` Job runs before a new counter starts: it
brings the data in Redis to SCHEMA and exits. Redis's password is read from the file
REDIS_PASSWORD_FILE names (a secret file), when that file exists.
"""

import os
import signal
import socket
import sys
import threading

REDIS_HOST = os.environ.get("REDIS_HOST", "redis")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
PORT = int(os.environ.get("PORT", "8000"))
GREETING = os.environ.get("GREETING", "Hello from orun")
PASSWORD_FILE = os.environ.get("REDIS_PASSWORD_FILE", "/run/secrets/REDIS_PASSWORD")
COUNTER_KEY = "visits"
SCHEMA_KEY = "schema"
# The version of the data this code reads and writes; `migrate` brings Redis to it.
SCHEMA = 1


class RedisError(Exception):
    """Redis could not be reached, or answered with an error."""


def encode(args):
    parts = [str(arg).encode() for arg in args]
    return b"*%d\r\n" % len(parts) + b"".join(
        b"$%d\r\n%s\r\n" % (len(part), part) for part in parts
    )


def read_reply(reply):
    line = reply.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:].decode()
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else reply.read(size + 2)[:-2].decode()
    if kind == b"-":
        raise RedisError(rest)
    raise RedisError("unexpected reply %r" % line)


def password():
    """Redis's password from the secret file, or None when there is no such file."""
    try:
        with open(PASSWORD_FILE) as file:
            return file.read().strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise RedisError("cannot read %s: %s" % (PASSWORD_FILE, error)) from error


def redis_command(*args):
    """Sends one command on a fresh connection (after AUTH when a password is set) and returns
    the reply: int, str or None."""
    secret = password()
    commands = ([("AUTH", secret)] if secret else []) + [args]
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as connection:
            connection.sendall(b"".join(encode(command) for command in commands))
            reply = connection.makefile("rb")
            replies = [read_reply(reply) for _ in commands]
            return replies[-1]
    except OSError as error:
        raise RedisError(str(error)) from error


def route(method, path):
    """The status line and body for one request."""
    if method not in ("GET", "HEAD"):
        return "405 Method Not Allowed", "only GET and HEAD\n"
    try:
        if path == "/health":
            schema = int(redis_command("GET", SCHEMA_KEY) or 0)
            if schema < SCHEMA:
                return "503 Service Unavailable", "schema %d in redis, %d needed: run the migration\n" % (schema, SCHEMA)
            return "200 OK", "ok\n"
        if path == "/count":
            return "200 OK", "%d\n" % int(redis_command("GET", COUNTER_KEY) or 0)
        if path == "/":
            visits = redis_command("INCR", COUNTER_KEY)
            return "200 OK", "%s! This page has been visited %d times.\n" % (GREETING, visits)
    except RedisError as error:
        return "503 Service Unavailable", "redis at %s:%d: %s\n" % (REDIS_HOST, REDIS_PORT, error)
    return "404 Not Found", "no page at %s\n" % path


def serve(connection):
    with connection:
        connection.settimeout(5)
        request = connection.makefile("rb")
        try:
            words = request.readline().decode("latin-1").split()
            while request.readline().strip():
                pass
        except OSError:
            return
        method, path = (words + ["", ""])[:2]
        status, body = route(method, path.split("?")[0])
        payload = body.encode()
        head = "HTTP/1.0 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % (
            status,
            len(payload),
        )
        try:
            connection.sendall(head.encode() + (payload if method != "HEAD" else b""))
        except OSError:
            pass
        print("%s %s %s" % (method, path, status.split()[0]), flush=True)


def main():
    # As PID 1 the process gets no default SIGTERM handling: exit at once when Docker stops it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", PORT))
    listener.listen(64)
    print("counting visits on :%d in redis at %s:%d" % (PORT, REDIS_HOST, REDIS_PORT), flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


def migrate():
    """Brings the data to SCHEMA: version 1 keeps the count under COUNTER_KEY, starting at 0.
    Safe to run again; exits non-zero when Redis cannot be reached."""
    try:
        redis_command("SETNX", COUNTER_KEY, 0)
        redis_command("SET", SCHEMA_KEY, SCHEMA)
    except RedisError as error:
        print("migration failed: redis at %s:%d: %s" % (REDIS_HOST, REDIS_PORT, error), flush=True)
        sys.exit(1)
    print("redis at %s:%d holds schema %d" % (REDIS_HOST, REDIS_PORT, SCHEMA), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["migrate"]:
        migrate()
    else:
        main()
