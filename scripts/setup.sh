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
log "setup complete"
