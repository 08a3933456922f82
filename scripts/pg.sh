#!/usr/bin/env bash
# A private PostgreSQL cluster for tests, benchmarks and the local network: loopback only, its own port and data
# directory, never the system cluster. Idempotent.
#   scripts/pg.sh start    init (first time) and start; prints the database URL on stdout
#   scripts/pg.sh stop     fast shutdown
#   scripts/pg.sh url      prints the database URL
#   scripts/pg.sh status
#   scripts/pg.sh drop-test-dbs   drop databases left by integration tests
# Env: TESSERA_PG_DIR (default /var/tmp/tessera-pg-$PORT), TESSERA_PG_PORT (default 55432).
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).
source "$(dirname "$0")/lib.sh"

port="${TESSERA_PG_PORT:-55432}"
dir="${TESSERA_PG_DIR:-/var/tmp/tessera-pg-$port}"
url="postgres://tessera@127.0.0.1:$port/tessera"

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || die "PostgreSQL server binaries not found: run scripts/setup.sh (apt-get install postgresql)"

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { as_pg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; }

start() {
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $dir (port $port)"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    chmod 700 "$dir"
    as_pg "$bindir/initdb" -D "$dir" -U tessera --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$dir/postgresql.conf" <<CONF
# Tessera: loopback only, own port, socket in the data directory.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
log_min_messages = warning
CONF
  fi
  if ! running; then
    as_pg "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start (log: $dir/server.log)"; }
  fi
  if ! as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U tessera -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='tessera'" | grep -q 1; then
    as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U tessera tessera
  fi
  echo "$url"
}

case "${1:-start}" in
  start) start ;;
  stop) if running; then as_pg "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null; fi ;;
  url) echo "$url" ;;
  drop-test-dbs)
    # Databases the tests, benchmarks and local networks created, left behind by earlier runs.
    if running; then
      for db in $(as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U tessera -d postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'it\_%' OR datname LIKE 'bench\_%' OR datname LIKE 'sqlx\_check\_%' OR datname LIKE 'localnet\_%'"); do
        as_pg "$bindir/dropdb" -h 127.0.0.1 -p "$port" -U tessera "$db"
      done
    fi ;;
  status) if running; then echo "running: $url"; else echo "stopped"; exit 3; fi ;;
  *) die "usage: scripts/pg.sh start|stop|url|status|drop-test-dbs" ;;
esac
