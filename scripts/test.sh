#!/usr/bin/env bash
# Runs every check CI runs. The README's test command; .ci/run calls it.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    skip the invariant campaign, coverage and Slither
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

bash scripts/setup.sh

log "formatting"
forge fmt --check
cargo fmt --all -- --check
log "docs: the committee odds table in docs/security.md is scripts/committee-odds.py's output"
python3 scripts/committee-odds.py --check docs/security.md

log "contracts: build and size limit"
forge build --sizes --skip test --skip script >/dev/null
log "contracts: committed bindings artifacts match the sources"
forge build >/dev/null
node scripts/gen-bindings.cjs --check

log "web: generated API types match web/openapi.json (which the indexer's tests hold to the served document)"
(cd web && npx openapi-typescript openapi.json -o src/generated/api.ts --check >/dev/null) \
  || die "web/src/generated/api.ts is stale: run npm run gen:api in web/ and commit it"
log "web: type check, lint, unit tests (Vitest), build"
(cd web && npx tsc --noEmit && npx eslint . && npx vitest run --reporter=dot && npx vite build --logLevel warn)

log "contracts: unit and fuzz tests"
forge_test --no-match-contract Invariant -q
log "contracts: gas snapshots (snapshots/DistributedRender.json) unchanged"
FOUNDRY_PROFILE=gas FORGE_SNAPSHOT_CHECK=true forge_test -q
if [ "$quick" = 0 ]; then
  log "contracts: invariant suite"
  forge_test --match-contract Invariant -q
fi

log "postgres: private cluster for the indexer's tests"
TESSERA_TEST_DATABASE_URL="$(bash scripts/pg.sh start)"
export TESSERA_TEST_DATABASE_URL
bash scripts/pg.sh drop-test-dbs
log "indexer: committed sqlx offline data (indexer/.sqlx) matches the queries and migrations"
bash scripts/sqlx-check.sh

log "rust: clippy"
cargo clippy --locked --all-targets -- -D warnings
log "rust: binaries for the end-to-end tests (tests/ runs them as processes)"
cargo build --locked --bins
log "rust: tests (the end-to-end suite included)"
cargo_test --workspace

if [ "$quick" = 0 ]; then
  log "indexer: schemathesis against the served OpenAPI document"
  bash scripts/schemathesis.sh "$CARGO_TARGET_DIR/debug/tessera-indexer" > "${TMPDIR:-/tmp}/tessera-schemathesis.log" 2>&1 \
    || { tail -60 "${TMPDIR:-/tmp}/tessera-schemathesis.log" >&2; die "schemathesis found failures"; }
  grep -E 'generated|passed' "${TMPDIR:-/tmp}/tessera-schemathesis.log" | tail -1 >&2
  bash scripts/coverage.sh
  log "contracts: slither"
  bash scripts/slither.sh
fi
log "all checks passed"
