#!/bin/sh
# Entrypoint of fleethub's local PostgreSQL image (hack/app-images.sh). With
# the command "postgres" (the default) it initialises an empty PGDATA the way
# the official image does — superuser POSTGRES_USER (default postgres) with
# POSTGRES_PASSWORD, database POSTGRES_DB (default: the user's name),
# password authentication over TCP — and then runs the server on all
# addresses. A PGDATA that is already initialised is used as it is: the
# password is only read when initialising, as with the official image.
# Any other command is run as given.
set -eu

if [ "${1:-}" != "postgres" ]; then
  exec "$@"
fi
shift

: "${PGDATA:?PGDATA must be set}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: PGDATA is empty and POSTGRES_PASSWORD is not set" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != "postgres" ]; then
    sock=$(mktemp -d)
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories='$sock'" -w start >/dev/null
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet -h "$sock" -U "$user" -d postgres --set=db="$db" <<'SQL'
CREATE DATABASE :"db";
SQL
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    rmdir "$sock"
  fi
  echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)"
fi

exec postgres -c listen_addresses='*' "$@"
