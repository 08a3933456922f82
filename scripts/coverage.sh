#!/usr/bin/env bash
# Line and branch coverage of contracts/src by the unit and fuzz tests; fails below the floor.
#   scripts/coverage.sh [MIN_PERCENT]   (default 95)
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
min="${1:-95}"
log "contracts: coverage (floor ${min}% of lines and branches)"
report=$(forge coverage --report summary --no-match-coverage '(test|script)/' --no-match-contract Invariant 2>&1) || {
  printf '%s\n' "$report" >&2
  die "forge coverage failed"
}
row=$(printf '%s\n' "$report" | grep -E '^\| contracts/src/DistributedRender.sol') || die "no coverage row for DistributedRender.sol"
printf '%s\n' "$report" | grep -E '^\| (File|contracts/src|Total)' >&2
lines=$(printf '%s' "$row" | awk -F'|' '{print $3}' | grep -oE '[0-9]+\.[0-9]+' | head -1)
branches=$(printf '%s' "$row" | awk -F'|' '{print $5}' | grep -oE '[0-9]+\.[0-9]+' | head -1)
awk -v l="$lines" -v b="$branches" -v m="$min" 'BEGIN { exit !(l >= m && b >= m) }' \
  || die "coverage below ${min}%: lines ${lines}%, branches ${branches}%"
