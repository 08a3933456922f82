#!/usr/bin/env bash
# Fidelity benchmark: the suite of scenes of crates/render/examples/fidelity_scenes.rs (complete.glb and one
# small scene per feature) and a scene made in Blender and exported by the add-on (scripts/bench/blender_scene.py) rendered by tessera-render and by Blender Cycles (Debian's blender, CPU) at the
# same camera, resolution, samples and bounce limit, compared with NVIDIA FLIP and mean luminance, timed
# side by side in the same run (each side's time the best of TESSERA_FIDELITY_RUNS renders, 3 by default and
# at least 5 for complete.glb, the speed goal's scene, alternating the two: one run on a shared machine is at
# the mercy of its neighbours; scripts/bench/speed-rounds.sh repeats one scene's timing in rounds). Writes
# the table and images into docs/fidelity.md and docs/fidelity/.
# Installs blender (apt) and the comparison's Python packages (a virtualenv) when missing.
#   scripts/bench-fidelity.sh [WIDTH HEIGHT SPP BOUNCES]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bench/timing.sh"
cd "$TESSERA_ROOT"
w="${1:-200}" h="${2:-200}" spp="${3:-256}" bounces="${4:-8}"
runs="${TESSERA_FIDELITY_RUNS:-3}"
out="$(mktemp -d "${TMPDIR:-/tmp}/tessera-fidelity.XXXXXX")"
log "building tessera-render and the suite (release)"
cargo build --release --locked -p tessera-render --bin tessera-render --example fidelity_scenes >/dev/null
"$CARGO_TARGET_DIR/release/examples/fidelity_scenes" "$out/scenes" >&2
if ! command -v blender >/dev/null; then
  log "installing blender (Debian) for the Cycles side"
  apt-get install -y -qq --no-install-recommends blender python3-numpy >/dev/null
fi
# A scene made in Blender (its lights in W, Principled materials) and exported by the Blender add-on's own
# export, so that the add-on's path into tessera is held to the same goal.
log "blender-export: building the scene in Blender and exporting it as the add-on does"
blender -b --factory-startup --python scripts/bench/blender_scene.py -- "$out/scenes/blender-export.glb" \
  > "$out/blender-export.log" 2>&1 || die "building blender-export failed: $(tail -20 "$out/blender-export.log")"
echo "blender-export 0" >> "$out/scenes/suite.txt"
venv="${TESSERA_FIDELITY_VENV:-$HOME/.cache/tessera/fidelity-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import flip_evaluator, PIL" 2>/dev/null; then
  log "installing the comparison's packages into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/bench/fidelity-requirements.txt
fi
# The same renders with current Blender (4.5 LTS, PyPI's `bpy` module, ~1 GB, in a virtualenv): its Principled
# BSDF's diffuse is Lambert's (Burley's until 4.0), glTF's model. TESSERA_FIDELITY_CYCLES4=0 leaves it out.
bpy4="${TESSERA_BPY4_VENV:-$HOME/.cache/tessera/bpy45}"
if [ "${TESSERA_FIDELITY_CYCLES4:-1}" = 1 ] && { [ ! -x "$bpy4/bin/python" ] || ! "$bpy4/bin/python" -c "import bpy" 2>/dev/null; }; then
  log "installing bpy 4.5 into $bpy4"
  python3 -m venv "$bpy4"
  "$bpy4/bin/pip" install -q --disable-pip-version-check "bpy>=4.5,<4.6"
fi
results="$out/results.tsv"
: > "$results"
while read -r name frame; do
  scene="$out/scenes/$name.glb"
  ours_s="" cycles_s=""
  # The speed goal's scene gets at least five runs a side: its figure is the one a goal is judged by.
  n="$runs"
  [ "$name" = complete ] && [ "$n" -lt 5 ] && n=5
  for run in $(seq "$n"); do
    log "$name: tessera ($run of $n)"
    t="$(tessera_seconds "$CARGO_TARGET_DIR/release/tessera-render" "$scene" "$frame" "$w" "$h" "$spp" "$bounces" \
      --exr "$out/$name-tessera.exr" -o "$out/$name-tessera.png")"
    ours_s="$(min_seconds "$ours_s" "$t")"
    log "$name: Cycles ($run of $n)"
    t="$(cycles_seconds "$scene" "$frame" "$w" "$h" "$spp" "$bounces" "$out/$name-cycles.exr")"
    cycles_s="$(min_seconds "$cycles_s" "$t")"
  done
  log "$name: Cycles, Lambert control"
  cycles_seconds "$scene" "$frame" "$w" "$h" "$spp" "$bounces" "$out/$name-lambert.exr" lambert > /dev/null
  cycles4="-"
  if [ "${TESSERA_FIDELITY_CYCLES4:-1}" = 1 ]; then
    log "$name: Cycles 4.5"
    if ! c4_log="$("$bpy4/bin/python" scripts/bench/fidelity.py -- "$scene" "$frame" "$w" "$h" "$spp" "$bounces" \
      "$out/$name-cycles4.exr" 2>&1)"; then
      die "Cycles 4.5 failed on $name: $(printf '%s\n' "$c4_log" | tail -20)"
    fi
    t4="$(printf '%s\n' "$c4_log" | awk '/CYCLES_RENDER_SECONDS/ {print $2}')"
    [ -n "$t4" ] || die "Cycles 4.5 failed on $name: $(printf '%s\n' "$c4_log" | tail -20)"
    cycles4="$out/$name-cycles4.exr:$t4"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$frame" "$out/$name-tessera.exr" "$out/$name-cycles.exr" \
    "$ours_s" "$cycles_s" "$out/$name-lambert.exr" "$cycles4" >> "$results"
done < "$out/scenes/suite.txt"
"$venv/bin/python" scripts/bench/fidelity_compare.py "$results" docs \
  "${w}x${h}, ${spp} spp, ${bounces} bounces, CPU, $(nproc) threads, times the best of $runs (complete: of at least 5); $(blender --version 2>/dev/null | head -1)$(
  [ "${TESSERA_FIDELITY_CYCLES4:-1}" = 1 ] && "$bpy4/bin/python" -c 'import bpy; print("; Cycles 4.5 by bpy", bpy.app.version_string)' 2>/dev/null | tail -1)"
echo "renders in $out"
