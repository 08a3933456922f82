#!/usr/bin/env bash
# Indexer benchmarks (see indexer/benches/indexer.rs): backfill throughput from a ≥ 100k-event anvil history,
# live-stream latency, and API throughput/latency with wrk over ≥ 1M indexed tasks. Release build.
#   scripts/bench-indexer.sh [all|backfill|latency|api] [--events N] [--runs R] [--tasks N] [--seconds S] [--samples N]
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk (apt)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
TESSERA_TEST_DATABASE_URL="${TESSERA_TEST_DATABASE_URL:-$(bash scripts/pg.sh start)}"
export TESSERA_TEST_DATABASE_URL
bash scripts/pg.sh drop-test-dbs
nproc_line="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
log "machine: $nproc_line"
cargo bench --locked -q -p tessera-indexer --bench indexer -- "${@:-all}"
