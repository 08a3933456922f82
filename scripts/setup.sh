#!/usr/bin/env bash
# Installs everything the tests and the local network need, from the project's own files. Idempotent:
# a second run only checks. Run as root on a fresh Debian machine, or as a user who has node, npm and cargo.
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"

need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif need sudo; then sudo "$@"; else die "need root for: $*"; fi; }

apt_packages=()
need node || apt_packages+=(nodejs)
need npm || apt_packages+=(npm)
need python3 || apt_packages+=(python3 python3-venv)
need git || apt_packages+=(git)
need cc || apt_packages+=(build-essential)
# PostgreSQL server binaries for the private test/local-network cluster (scripts/pg.sh).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)
if [ ${#apt_packages[@]} -gt 0 ]; then
  log "installing Debian packages: ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi
# Chromium for the web app's browser test (tests/e2e/web.rs, driven by playwright-core), without the recommends.
if ! need chromium; then
  log "installing Chromium (Debian)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# Blender for the add-on's end-to-end test (tests/e2e/blender.rs; Debian's 3.4), without the recommends.
if ! need blender; then
  log "installing Blender (Debian)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends blender >/dev/null
fi
need cargo || die "cargo not found: install Rust with rustup (https://rustup.rs), then rerun"

# Foundry (native forge/anvil/cast), solc (solcjs), OpenZeppelin, forge-std: pinned by package-lock.json.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -x "$FOUNDRY_BIN/forge-linux-amd64/bin/forge" ] || [ "$(cat node_modules/.tessera-lock 2>/dev/null)" != "$lock_hash" ]; then
  log "installing JS toolchain (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.tessera-lock
fi
for tool in forge anvil cast; do
  [ -x "$FOUNDRY_BIN/$tool-linux-amd64/bin/$tool" ] || die "$tool missing after npm ci (node_modules/@foundry-rs/$tool-linux-amd64)"
done
forge --version | head -1 >&2
node scripts/solc-shim.cjs --version | tail -1 >&2

# The web app's toolchain and dependencies (web/package-lock.json).
web_hash="$(sha256sum web/package-lock.json | cut -d' ' -f1)"
if [ "$(cat web/node_modules/.tessera-lock 2>/dev/null)" != "$web_hash" ]; then
  log "installing the web app's packages (npm ci in web/)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  echo "$web_hash" > web/node_modules/.tessera-lock
fi

# The local IPFS node for tests and the local network (js-ipfs serving the Kubo RPC API on loopback).
# `npm install`, not `npm ci`: an optional dependency fetched from a tarball URL makes `ci` reject the lock.
ipfs_dir=scripts/ipfs-devnode
ipfs_hash="$(sha256sum "$ipfs_dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -d "$ipfs_dir/node_modules/ipfs" ] || [ "$(cat "$ipfs_dir/node_modules/.tessera-lock" 2>/dev/null)" != "$ipfs_hash" ]; then
  log "installing the IPFS dev node (npm install in $ipfs_dir)"
  (cd "$ipfs_dir" && npm install --no-audit --no-fund --loglevel=error)
  echo "$ipfs_hash" > "$ipfs_dir/node_modules/.tessera-lock"
fi

# Slither, in a virtualenv outside the clone (reused between runs).
if [ ! -x "$TESSERA_VENV/bin/slither" ]; then
  log "installing slither-analyzer into $TESSERA_VENV"
  python3 -m venv "$TESSERA_VENV"
  "$TESSERA_VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-dev.txt
fi
# schemathesis, for the API fuzzing step (its own virtualenv: its dependencies are not Slither's).
st_venv="${TESSERA_ST_VENV:-$HOME/.cache/tessera/st-venv}"
if [ ! -x "$st_venv/bin/st" ]; then
  log "installing schemathesis into $st_venv"
  python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.5'
fi
# Intel Open Image Denoise, for `--denoise` (job fetch, tessera-render): the official 2.5.1 CPU libraries as
# PyPI's pyoidn wheel ships them, pinned by hash and unpacked outside the clone; loaded at run time.
oidn_wheel="pyoidn-2.5.1.0-py3-none-manylinux2014_x86_64.whl"
oidn_sha="32ad13368f8de1ef63001942ad05b02a00cd732d1206d97f352d3a3f606d823e"
if [ ! -f "$TESSERA_OIDN_DIR/.tessera-lock" ] || [ "$(cat "$TESSERA_OIDN_DIR/.tessera-lock")" != "$oidn_sha" ]; then
  log "installing Open Image Denoise 2.5.1 (pyoidn wheel from PyPI) into $TESSERA_OIDN_DIR"
  tmp="$(mktemp -d)"
  "$TESSERA_VENV/bin/pip" download -q --disable-pip-version-check --no-deps 'pyoidn==2.5.1.0' \
    --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 -d "$tmp"
  echo "$oidn_sha  $tmp/$oidn_wheel" | sha256sum -c --quiet - || die "the pyoidn wheel does not match its pinned hash"
  # Under lib/: the libraries find one another through their RPATH, $ORIGIN/../lib.
  mkdir -p "$TESSERA_OIDN_DIR/lib"
  python3 - "$tmp/$oidn_wheel" "$TESSERA_OIDN_DIR/lib" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        # The CPU device and what it needs; not the GPU devices (SYCL, HIP, CUDA) or Level Zero.
        if name.startswith("pyoidn/oidn/lib/") and ".so" in base and not any(
                k in base for k in ("sycl", "hip", "cuda", "level_zero", "ur_")):
            with open(os.path.join(out, base), "wb") as f:
                f.write(z.read(name))
PY
  rm -rf "$tmp"
  echo "$oidn_sha" > "$TESSERA_OIDN_DIR/.tessera-lock"
fi

log "setup complete"
