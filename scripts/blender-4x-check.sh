#!/usr/bin/env bash
# The Blender add-on under the Blender 4.x API (CI runs Debian's 3.4): PyPI's `bpy` module (Blender 4.5 LTS as
# a Python module, about 1 GB) in a virtualenv, then tests/blender/bpy4_check.py (no network needed).
#   scripts/blender-4x-check.sh
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
venv="${TESSERA_BPY4_VENV:-$HOME/.cache/tessera/bpy45}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import bpy" 2>/dev/null; then
  log "installing bpy 4.5 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "bpy>=4.5,<4.6"
fi
cargo build -q --locked -p tessera-cli
TESSERA_CLI="$CARGO_TARGET_DIR/debug/tessera" "$venv/bin/python" tests/blender/bpy4_check.py 2>&1 | grep -v "INFO\|Draco"
