"""The notes app: keeps short notes in PostgreSQL and says which version it and the schema are.

    GET  /        "notes <APP_VERSION> schema <latest migration>"
    GET  /notes   the notes, one a line, oldest first
    POST /notes   stores the request body as a note; answers "note <id>"
    GET  /health  200 once PostgreSQL answers

The password is read from the secret file at DB_PASSWORD_FILE, never from the environment.
"""

import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

VERSION = os.environ.get("APP_VERSION", "v1")


def connect():
    with open(os.environ.get("DB_PASSWORD_FILE", "/run/secrets/db_password")) as secret:
        password = secret.read().strip()
    return psycopg2.connect(
        host=os.environ.get("DB_HOST", "db"), user="postgres", password=password, connect_timeout=3
    )


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        def read(cursor):
            if self.path == "/health":
                cursor.execute("SELECT 1")
                return "ok\n"
            if self.path == "/notes":
                cursor.execute("SELECT body FROM notes ORDER BY id")
                return "".join("%s\n" % row[0] for row in cursor.fetchall())
            cursor.execute("SELECT max(version) FROM schema_migrations")
            return "notes %s schema %s\n" % (VERSION, cursor.fetchone()[0])

        self.answer(read)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()

        def write(cursor):
            cursor.execute("INSERT INTO notes (body) VALUES (%s) RETURNING id", (body,))
            return "note %s\n" % cursor.fetchone()[0]

        self.answer(write)

    def answer(self, work):
        try:
            connection = connect()
            try:
                with connection, connection.cursor() as cursor:
                    body = work(cursor)
            finally:
                connection.close()
            status = 200
        except Exception as error:  # the page says what is wrong rather than hanging up
            status, body = 503, "database: %s\n" % error
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()


if __name__ == "__main__":
    main()
