#!/usr/bin/env bash
# Speed of tessera-render against Blender Cycles on one scene of the fidelity suite, in rounds: each round
# renders the scene with every given tessera-render binary and with Cycles in turn, TESSERA_SPEED_RUNS times
# (3 by default), and prints each side's best and each binary's ratio to Cycles. Binaries compared in the
# same rounds meet the same neighbours and the same Cycles runs (e.g. a previous commit's build against this
# one). The suite's settings (200x200, 256 spp, 8 bounces, CPU) and the fidelity benchmark's timing
# (bench/timing.sh: tessera's load and render against Cycles' render call).
#   scripts/bench/speed-rounds.sh [ROUNDS [SCENE [TESSERA_RENDER...]]]
# Defaults: 5 rounds, complete, this checkout's release build. Needs blender (scripts/bench-fidelity.sh
# installs it).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/timing.sh"
rounds="${1:-5}" name="${2:-complete}"
runs="${TESSERA_SPEED_RUNS:-3}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a whole number of at least 1, not $rounds"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "TESSERA_SPEED_RUNS must be a whole number of at least 1, not $runs"
# The builds as given, from where the script was called.
bins=()
for b in "${@:3}"; do
  [ -f "$b" ] && [ -x "$b" ] || die "no tessera-render at $b"
  bins+=("$(realpath -s "$b")")
done
cd "$TESSERA_ROOT"
command -v blender > /dev/null || die "blender is not installed (scripts/bench-fidelity.sh installs it)"
log "building tessera-render and the suite (release)"
cargo build --release --locked -p tessera-render --bin tessera-render --example fidelity_scenes > /dev/null
[ "${#bins[@]}" -gt 0 ] || bins=("$CARGO_TARGET_DIR/release/tessera-render")
out="$(mktemp -d "${TMPDIR:-/tmp}/tessera-speed.XXXXXX")"
trap 'rm -rf "$out"' EXIT
"$CARGO_TARGET_DIR/release/examples/fidelity_scenes" "$out/scenes" > /dev/null 2>&1
frame="$(awk -v n="$name" '$1 == n { print $2 }' "$out/scenes/suite.txt")"
[ -n "$frame" ] || die "no scene $name in the suite ($(cut -d' ' -f1 "$out/scenes/suite.txt" | tr '\n' ' '))"
scene="$out/scenes/$name.glb"
for round in $(seq "$rounds"); do
  declare -A best=()
  cycles=""
  for run in $(seq "$runs"); do
    for b in "${bins[@]}"; do
      t="$(tessera_seconds "$b" "$scene" "$frame" 200 200 256 8 -o "$out/t.png")"
      best[$b]="$(min_seconds "${best[$b]:-}" "$t")"
    done
    t="$(cycles_seconds "$scene" "$frame" 200 200 256 8 "$out/c.exr")"
    cycles="$(min_seconds "$cycles" "$t")"
  done
  line="round $round: Cycles $cycles s"
  for b in "${bins[@]}"; do
    line="$line | $b ${best[$b]} s, ratio $(awk -v t="${best[$b]}" -v c="$cycles" 'BEGIN { printf "%.3f", t / c }')"
  done
  echo "$line"
  unset best
done
