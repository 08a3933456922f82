#!/usr/bin/env bash
# The Blender panel's screenshot in docs/blender/panel.png: Blender in a real window under Xvfb (installs
# xvfb when missing), the add-on installed from its zip, Check and Estimate run with the debug CLI.
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
command -v xvfb-run >/dev/null || apt-get install -y -qq --no-install-recommends xvfb xauth >/dev/null
cargo build -q --locked -p tessera-cli
work="$(mktemp -d "${TMPDIR:-/tmp}/tessera-shot.XXXXXX")"
bash scripts/package-blender-addon.sh "$work/addon.zip" >/dev/null
# A file on the command line: Blender opens it without the splash screen.
blender -b --factory-startup --python-expr "import bpy; bpy.ops.wm.save_as_mainfile(filepath='$work/shot.blend')" >/dev/null
TESSERA_ADDON_ZIP="$work/addon.zip" TESSERA_CLI="$CARGO_TARGET_DIR/debug/tessera" \
  SHOT_OUT="$TESSERA_ROOT/docs/blender/panel.png" BLENDER_USER_SCRIPTS="$work/user" \
  timeout 180 xvfb-run -a -s "-screen 0 820x2200x24" \
  blender --factory-startup "$work/shot.blend" --python scripts/blender-screenshot.py > "$work/log" 2>&1 \
  || die "blender failed: $(tail -20 "$work/log")"
[ -s docs/blender/panel.png ] || die "no screenshot: $(tail -20 "$work/log")"
log "wrote docs/blender/panel.png"
