#!/usr/bin/env bash
# Indexer benchmarks (see indexer/benches/indexer.rs), side by side with Ponder (indexer/benches/ponder) in the
# same run: backfill throughput from a ≥ 100k-event anvil history packed into large and into ordinary-sized
# blocks, live latency over WebSocket, and API throughput/latency with wrk over ≥ 1M indexed tasks. Release build.
#   scripts/bench-indexer.sh [all|backfill|latency|api] [--events N] [--runs R] [--blocks large|ordinary|both]
#                            [--tasks N] [--seconds S] [--samples N] [--no-peer]
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk (apt)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
case " $* " in
  *" --no-peer "*) ;;
  *)
    if [ ! -x indexer/benches/ponder/node_modules/.bin/ponder ]; then
      log "installing the peer, Ponder (npm ci in indexer/benches/ponder)"
      (cd indexer/benches/ponder && npm ci --no-audit --no-fund >/dev/null)
    fi
    ;;
esac
TESSERA_TEST_DATABASE_URL="${TESSERA_TEST_DATABASE_URL:-$(bash scripts/pg.sh start)}"
export TESSERA_TEST_DATABASE_URL
bash scripts/pg.sh drop-test-dbs
nproc_line="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
log "machine: $nproc_line; ponder $(node -p 'require("./indexer/benches/ponder/node_modules/ponder/package.json").version' 2>/dev/null || echo 'not installed')"
cargo bench --locked -q -p tessera-indexer --bench indexer -- "${@:-all}"
