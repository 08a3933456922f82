#!/usr/bin/env bash
# Checks that indexer/.sqlx (the offline data of the indexer's checked queries) is what the queries and the
# migrations give today: applies the migrations to a scratch database, re-expands the query macros against
# it into a scratch directory, and compares.
#   scripts/sqlx-check.sh           check (CI)
#   scripts/sqlx-check.sh --write   regenerate indexer/.sqlx
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
admin="${TESSERA_TEST_DATABASE_URL:-$(bash scripts/pg.sh start)}"
db="sqlx_check_$$"
psql -q "$admin" -c "CREATE DATABASE $db" >/dev/null
url="${admin%/*}/$db"
trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
for m in indexer/migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$m" >/dev/null; done
out="$(mktemp -d)"
touch indexer/src/store/*.rs
SQLX_OFFLINE=false DATABASE_URL="$url" SQLX_OFFLINE_DIR="$out" cargo check --locked -q -p tessera-indexer --lib
if [ "${1:-}" = "--write" ]; then
  rm -rf indexer/.sqlx && mkdir -p indexer/.sqlx && cp "$out"/*.json indexer/.sqlx/
  log "wrote $(ls indexer/.sqlx | wc -l) query files to indexer/.sqlx"
elif ! diff -r "$out" indexer/.sqlx >/dev/null; then
  diff -r "$out" indexer/.sqlx | head -20 >&2
  die "indexer/.sqlx is stale: run scripts/sqlx-check.sh --write and commit the result"
fi
rm -rf "$out"
