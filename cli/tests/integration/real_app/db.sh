# PostgreSQL 15 from the local Debian image, its cluster in the volume, the superuser's password
# from the secret file.
set -eu
data=/var/lib/postgresql/data/pg
bin=/usr/lib/postgresql/15/bin
as_postgres="setpriv --reuid=postgres --regid=postgres --init-groups"
if [ ! -s "$data/PG_VERSION" ]; then
  install -d -o postgres -g postgres -m 700 "$data"
  $as_postgres $bin/initdb -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile=/run/secrets/db_password >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$data/pg_hba.conf"
fi
exec $as_postgres $bin/postgres -D "$data" -c listen_addresses='*' -c unix_socket_directories=/tmp
