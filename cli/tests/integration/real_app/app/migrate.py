"""The notes app's migrations: runs each migrations/<version>_<name>.sql not yet recorded in
schema_migrations, in order, each in one transaction with its record, and stops with exit code 3
at the first that fails (which leaves the schema at the version before it)."""

import os
import re
import sys

import psycopg2

from app import connect

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def main():
    connection = connect()
    with connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY)")
        cursor.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in cursor.fetchall()}
    for name in sorted(os.listdir(FOLDER)):
        match = re.match(r"(\d+)_\w+\.sql$", name)
        if not match or int(match.group(1)) in done:
            continue
        version = int(match.group(1))
        with open(os.path.join(FOLDER, name)) as file:
            sql = file.read()
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.execute("INSERT INTO schema_migrations VALUES (%s)", (version,))
        except psycopg2.Error as error:
            print("migration %s failed: %s" % (name, error), file=sys.stderr)
            sys.exit(3)
        print("migrated to %d (%s)" % (version, name))
    connection.close()


if __name__ == "__main__":
    main()
