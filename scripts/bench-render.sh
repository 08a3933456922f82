#!/usr/bin/env bash
# Renderer benchmark: tessera-render-bench (CPU; CUDA when present) on complete.glb and the Cornell box,
# then Blender Cycles (CPU, Debian's blender) on complete.glb with the same camera, resolution, samples and
# bounce limit, denoising off — in one run on one machine. Installs blender with apt when missing.
#   scripts/bench-render.sh [WIDTH HEIGHT SPP BOUNCES]
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
w="${1:-1920}" h="${2:-1080}" spp="${3:-16}" bounces="${4:-8}"
out="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")"
log "building tessera-render-bench (release)"
cargo build --release --locked -p tessera-render --bins >/dev/null
log "tessera: ${w}x${h}, ${spp} spp, ${bounces} bounces"
"$CARGO_TARGET_DIR/release/tessera-render-bench" --width "$w" --height "$h" --spp "$spp" --bounces "$bounces" \
  --images "$out" | tee "$out/tessera.txt"
if ! command -v blender >/dev/null; then
  log "installing blender (Debian) for the Cycles comparison"
  apt-get install -y -qq --no-install-recommends blender python3-numpy >/dev/null
fi
log "Blender Cycles (CPU) on complete.glb"
blender -b --factory-startup --python scripts/bench/cycles.py -- assets/scenes/complete.glb "$w" "$h" "$spp" \
  "$bounces" "$out/complete-cycles.png" 2>&1 | grep -E "CYCLES_RENDER_SECONDS|Error" | tee "$out/cycles.txt"
ours=$(awk '$1 == "complete" && $2 == "cpu:" {print $(NF-4) + $(NF-3)}' "$out/tessera.txt")
theirs=$(awk '/CYCLES_RENDER_SECONDS/ {print $2}' "$out/cycles.txt")
if [ -n "$ours" ] && [ -n "$theirs" ]; then
  awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "complete.glb CPU: tessera %.2fs (load + render) vs Cycles %.2fs (render call): ratio %.2f\n", a, b, a / b }'
fi
echo "images in $out"
