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
rows=$(printf '%s\n' "$report" | grep -E '^\| contracts/src/') || die "no coverage rows for contracts/src"
printf '%s\n' "$report" | grep -E '^\| (File|contracts/src|Total)' >&2
# Every source file of the market (DistributedRender, its base and its extension) must reach the floor.
while IFS= read -r row; do
  file=$(printf '%s' "$row" | awk -F'|' '{print $2}' | xargs)
  lines=$(printf '%s' "$row" | awk -F'|' '{print $3}' | grep -oE '[0-9]+\.[0-9]+' | head -1)
  branches=$(printf '%s' "$row" | awk -F'|' '{print $5}' | grep -oE '[0-9]+\.[0-9]+' | head -1)
  awk -v l="$lines" -v b="$branches" -v m="$min" 'BEGIN { exit !(l >= m && b >= m) }' \
    || die "coverage of $file below ${min}%: lines ${lines}%, branches ${branches}%"
done <<< "$rows"
