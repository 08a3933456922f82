#!/usr/bin/env bash
# Proves that a failing test turns the run red: in a scratch copy of the repository, adds one Solidity test
# file and one Rust test file, each with a passing and a failing test, and runs them through the very
# functions scripts/test.sh uses (forge_test, cargo_test from scripts/lib.sh). The passing test must pass
# (so the failure is not a build error), the failing one must fail, naming itself.
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/tessera-canary.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
git ls-files --cached --others --exclude-standard -z | xargs -0 cp --parents -t "$scratch"
ln -s "$TESSERA_ROOT/node_modules" "$scratch/node_modules"
# Reuse forge's compilation cache so the canary costs seconds.
for d in contracts/out contracts/cache; do [ -d "$d" ] && cp -r "$d" "$scratch/$d"; done

cat >"$scratch/contracts/test/Canary.t.sol" <<'SOL'
// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

contract CanaryTest is Test {
    function test_canaryPasses() public pure {
        assertEq(uint256(2) + 2, 4);
    }

    function test_canaryFails() public pure {
        assertEq(uint256(2) + 2, 5, "canary: this test must fail");
    }
}
SOL
cat >"$scratch/crates/bindings/tests/canary.rs" <<'RS'
//! Canary: one passing and one failing test.
#[test]
fn canary_passes() {
    assert_eq!(2 + 2, 4);
}

#[test]
fn canary_fails() {
    assert_eq!(2 + 2, 5, "canary: this test must fail");
}
RS

# Run the shared functions against the scratch copy.
TESSERA_ROOT="$scratch"
expect_pass() { local what="$1"; shift; "$@" >"$scratch/out.log" 2>&1 || { cat "$scratch/out.log" >&2; die "canary: $what should pass"; }; }
expect_fail() {
  local what="$1" needle="$2"; shift 2
  if "$@" >"$scratch/out.log" 2>&1; then cat "$scratch/out.log" >&2; die "canary: $what passed; a failing test does not turn the run red"; fi
  grep -q "$needle" "$scratch/out.log" || { cat "$scratch/out.log" >&2; die "canary: $what failed, but not because of $needle"; }
}

log "canary: forge"
expect_pass "forge test_canaryPasses" forge_test --match-contract CanaryTest --match-test test_canaryPasses
expect_fail "forge test_canaryFails" "test_canaryFails" forge_test --match-contract CanaryTest
log "canary: cargo"
expect_pass "cargo canary_passes" cargo_test -p tessera-bindings --test canary canary_passes
expect_fail "cargo canary_fails" "canary_fails" cargo_test -p tessera-bindings --test canary
log "canary: failing forge and cargo tests turn the run red"
