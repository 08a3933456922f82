# Timing of one render by each side of the fidelity benchmark, shared by scripts/bench-fidelity.sh and
# scripts/bench/speed-rounds.sh: sourced, after scripts/lib.sh. The figures compared are tessera's load and
# render (tessera-render's "loaded in" and "rendered ... in") against Cycles' render call
# (CYCLES_RENDER_SECONDS of scripts/bench/fidelity.py: scene sync, BVH build and path tracing), in seconds.

# The functions die (scripts/lib.sh) on a failed render or a log without the figure; called in "$(...)",
# assign the result to a variable first (`t="$(tessera_seconds ...)"`), so that under `set -e` the failure
# ends the caller too.

# tessera_seconds BIN SCENE FRAME W H SPP BOUNCES [ARGS...]: renders with BIN on the CPU (ARGS: its outputs)
# and prints the seconds.
tessera_seconds() {
  local bin="$1" scene="$2" frame="$3" w="$4" h="$5" spp="$6" bounces="$7" out
  shift 7
  out="$("$bin" "$scene" --frame "$frame" --width "$w" --height "$h" --spp "$spp" --bounces "$bounces" \
    --backend cpu "$@" 2>&1)" || die "tessera-render failed on $scene: $out"
  printf '%s\n' "$out" | awk '
    /loaded in/ { if (!match($0, /loaded in [0-9.]+(µs|ms|s)/)) next
                  t = substr($0, RSTART + 10, RLENGTH - 10)
                  if (t ~ /µs$/) load = t / 1e6; else if (t ~ /ms$/) load = t / 1e3; else load = t + 0 }
    /^rendered/ { for (i = 1; i <= NF; i++) if ($i == "in") { r = $(i + 1); sub(/s:?$/, "", r) } }
    END { if (load == "" || r == "") exit 1; printf "%.3f\n", load + r }' \
    || die "no load and render times in the log of $bin on $scene: $out"
}

# cycles_seconds SCENE FRAME W H SPP BOUNCES OUT_EXR [lambert]: renders with Debian's Blender (Cycles, CPU)
# and prints the seconds of its render call.
cycles_seconds() {
  local out t
  out="$(blender -b --factory-startup --python "$TESSERA_ROOT/scripts/bench/fidelity.py" -- "$@" 2>&1)" \
    || die "Cycles failed on $1: $(printf '%s\n' "$out" | tail -20)"
  t="$(printf '%s\n' "$out" | awk '/CYCLES_RENDER_SECONDS/ {print $2}')"
  [ -n "$t" ] || die "Cycles failed on $1: $(printf '%s\n' "$out" | tail -20)"
  echo "$t"
}

# min_seconds A B: the smaller of two figures, B alone when A is empty (B must not be).
min_seconds() {
  [ -n "$2" ] || die "min_seconds: no figure"
  awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'
}
