#!/usr/bin/env bash
# Packages the Blender add-on (blender/tessera_blender) as an installable zip:
#   scripts/package-blender-addon.sh [OUT]    (default dist/tessera_blender-<version>.zip)
# Install it in Blender with Edit > Preferences > Add-ons > Install… (docs/blender.md).
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
version="$(python3 -c 'import ast,sys
t=ast.parse(open("blender/tessera_blender/__init__.py").read())
for n in t.body:
    if isinstance(n, ast.Assign) and n.targets[0].id == "bl_info":
        print(".".join(map(str, ast.literal_eval(n.value)["version"])))')"
out="${1:-dist/tessera_blender-$version.zip}"
mkdir -p "$(dirname "$out")"
python3 - "$out" <<'PY'
import os, sys, zipfile
out = sys.argv[1]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk("blender/tessera_blender"):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(root, f)
                z.write(path, os.path.relpath(path, "blender"))
PY
log "add-on packaged: $out"
echo "$out"
