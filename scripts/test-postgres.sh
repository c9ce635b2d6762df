#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the storage, outbox and two-instance tests.
set -euo pipefail
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_DIR=${HOTLINE_PG_DIR:-/tmp/hotline-pg}
PG_PORT=${HOTLINE_PG_PORT:-55432}
URL="postgresql+psycopg://hotline@127.0.0.1:${PG_PORT}/hotline"
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
case "${1:-start}" in
  url) echo "$URL" ;;
  start)
    if ! [ -f "$PG_DIR/PG_VERSION" ]; then
      mkdir -p "$PG_DIR"; [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
      as_pg "$PG_BIN/initdb -D $PG_DIR -A trust -U hotline >/dev/null"
    fi
    if ! as_pg "$PG_BIN/pg_ctl -D $PG_DIR status" >/dev/null 2>&1; then
      as_pg "$PG_BIN/pg_ctl -D $PG_DIR -w -l $PG_DIR/server.log -o '-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200' start" >/dev/null
    fi
    as_pg "$PG_BIN/psql -h 127.0.0.1 -p $PG_PORT -U hotline -d postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='hotline'\"" | grep -q 1 \
      || as_pg "$PG_BIN/createdb -h 127.0.0.1 -p $PG_PORT -U hotline hotline"
    echo "PostgreSQL ready: $URL" ;;
  stop) as_pg "$PG_BIN/pg_ctl -D $PG_DIR -m fast stop" ;;
esac
