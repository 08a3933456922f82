#!/usr/bin/env bash
# Start a loopback-only js-ipfs daemon with the Kubo RPC API.
# Env: IPFS_PATH (repo dir), IPFS_API_PORT (default 5001), IPFS_GATEWAY_PORT (default 8080),
#      IPFS_RPC_PORT (js-ipfs gRPC-over-websocket API, default 5003), IPFS_CORS_ORIGINS (comma-separated
#      origins whose pages may call the RPC API, e.g. the web app's; `*` for any; default none, and then
#      the node refuses every browser POST, as Kubo does)
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
fi
# Loopback only, no peers, no discovery: edited in the config file in one step (each `jsipfs config` call
# starts node, ~2 s). Rewritten on every start so that the ports can change between runs.
API_PORT="$API_PORT" GW_PORT="$GW_PORT" RPC_PORT="$RPC_PORT" CORS="${IPFS_CORS_ORIGINS:-}" node -e '
  const fs = require("fs"), f = process.env.IPFS_PATH + "/config";
  const c = JSON.parse(fs.readFileSync(f, "utf8"));
  const e = process.env;
  c.Addresses = Object.assign(c.Addresses || {}, {
    API: `/ip4/127.0.0.1/tcp/${e.API_PORT}`, Gateway: `/ip4/127.0.0.1/tcp/${e.GW_PORT}`,
    RPC: `/ip4/127.0.0.1/tcp/${e.RPC_PORT}/ws`, Swarm: ["/ip4/127.0.0.1/tcp/0"], Delegates: [],
    Announce: [], NoAnnounce: [] });
  c.Bootstrap = [];
  // The browser app uploads scenes and reads outputs through the RPC API: its origin must be allowed
  // (API.HTTPHeaders, the same setting as in Kubo).
  const origins = e.CORS.split(",").map((o) => o.trim()).filter(Boolean);
  c.API = Object.assign(c.API || {}, { HTTPHeaders: origins.length
    ? { "Access-Control-Allow-Origin": origins, "Access-Control-Allow-Methods": ["POST"] } : {} });
  c.Discovery = Object.assign(c.Discovery || {}, { MDNS: { Enabled: false, Interval: 10 }, webRTCStar: { Enabled: false } });
  fs.writeFileSync(f, JSON.stringify(c, null, 2));
'

# A daemon killed with SIGKILL leaves its lock directory behind.
rm -rf "$IPFS_PATH/repo.lock"
exec $JSIPFS daemon --enable-preload=false
