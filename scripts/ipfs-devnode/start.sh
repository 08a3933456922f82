#!/usr/bin/env bash
# Start a loopback-only js-ipfs daemon with the Kubo RPC API.
# Env: IPFS_PATH (repo dir), IPFS_API_PORT (default 5001), IPFS_GATEWAY_PORT (default 8080),
#      IPFS_RPC_PORT (js-ipfs gRPC-over-websocket API, default 5003)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
export IPFS_PATH="${IPFS_PATH:-$HERE/.repo}"
API_PORT="${IPFS_API_PORT:-5001}"
GW_PORT="${IPFS_GATEWAY_PORT:-8080}"
RPC_PORT="${IPFS_RPC_PORT:-5003}"
export NODE_OPTIONS="--require $HERE/poly.cjs ${NODE_OPTIONS:-}"
JSIPFS="node $HERE/node_modules/ipfs/src/cli.js"
[ -d "$HERE/node_modules/ipfs" ] || (cd "$HERE" && npm install --no-audit --no-fund)  # not `npm ci`: an optional GitHub-tarball dep (headless) makes ci reject the lock
node "$HERE/kubo-compat.cjs" >/dev/null
if [ ! -f "$IPFS_PATH/config" ]; then
  $JSIPFS init --profile test >/dev/null
  $JSIPFS config Addresses.API "/ip4/127.0.0.1/tcp/$API_PORT"
  $JSIPFS config Addresses.Gateway "/ip4/127.0.0.1/tcp/$GW_PORT"
  $JSIPFS config Addresses.RPC "/ip4/127.0.0.1/tcp/$RPC_PORT/ws"
  $JSIPFS config --json Addresses.Swarm '["/ip4/127.0.0.1/tcp/0"]'
  $JSIPFS config --json Addresses.Delegates '[]'
  $JSIPFS config --json Bootstrap '[]'
  $JSIPFS config --json Discovery.MDNS.Enabled false
  $JSIPFS config --json Discovery.webRTCStar.Enabled false
fi
# A daemon killed with SIGKILL leaves its lock directory behind.
rm -rf "$IPFS_PATH/repo.lock"
exec $JSIPFS daemon --enable-preload=false
