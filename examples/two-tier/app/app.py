"""The visit counter of the two-tier example: a small HTTP server that counts visits in Redis.

It uses only the modules of Debian's python3-minimal (socket, threading, os, signal), so the image
needs no pip and no full standard library: Redis is spoken to in raw RESP over a socket. It is a
demonstration, not a web framework: one thread per connection, HTTP/1.0, no keep-alive.

    GET /        counts the visit and greets with the total
    GET /count   the total alone, without counting
    GET /health  200 once Redis answers PING, 503 naming Redis's address otherwise
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
COUNTER_KEY = "visits"


class RedisError(Exception):
    """Redis could not be reached, or answered with an error."""


def redis_command(*args):
    """Sends one command on a fresh connection and returns the reply: int, str or None."""
    parts = [str(arg).encode() for arg in args]
    request = b"*%d\r\n" % len(parts) + b"".join(
        b"$%d\r\n%s\r\n" % (len(part), part) for part in parts
    )
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as connection:
            connection.sendall(request)
            reply = connection.makefile("rb")
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
    except OSError as error:
        raise RedisError(str(error)) from error


def route(method, path):
    """The status line and body for one request."""
    if method not in ("GET", "HEAD"):
        return "405 Method Not Allowed", "only GET and HEAD\n"
    try:
        if path == "/health":
            redis_command("PING")
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


if __name__ == "__main__":
    main()
