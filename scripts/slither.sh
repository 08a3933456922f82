#!/usr/bin/env bash
# Static analysis of contracts/src. Fails on any finding of medium or high impact that is not triaged in
# slither.config.json (each exclusion there is explained in docs/security.md).
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
[ -x "$TESSERA_VENV/bin/slither" ] || die "slither not installed: run scripts/setup.sh"
# Slither runs `forge clean` and rebuilds; the caller's later forge runs rebuild in turn.
"$TESSERA_VENV/bin/slither" . --config-file slither.config.json --fail-medium
