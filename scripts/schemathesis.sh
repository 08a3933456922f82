#!/usr/bin/env bash
# Fuzzes the indexer's HTTP API with schemathesis against its own OpenAPI document: a local anvil with the
# contracts deployed and a job posted, the private Postgres cluster, and the indexer binary.
#   scripts/schemathesis.sh [path/to/tessera-indexer]     (default: builds it)
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
venv="${TESSERA_ST_VENV:-$HOME/.cache/tessera/st-venv}"
if [ ! -x "$venv/bin/st" ]; then
  log "installing schemathesis into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.5'
fi
bin="${1:-}"
if [ -z "$bin" ]; then
  cargo build --locked -q -p tessera-indexer
  bin="$CARGO_TARGET_DIR/debug/tessera-indexer"
fi
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
admin="$(bash scripts/pg.sh start)"
db="st_$$"
psql -q "$admin" -c "CREATE DATABASE $db"
trap 'cleanup; psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
rpc_port=18545 api_port=18546
anvil --host 127.0.0.1 --port "$rpc_port" --silent & pids+=($!)
sleep 1
key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
forge script contracts/script/Deploy.s.sol --rpc-url "http://127.0.0.1:$rpc_port" \
  --broadcast --private-key "$key" >/dev/null
deployment="deployments/31337.json"
market="$(node -e "console.log(require('./$deployment').distributedRender)")"
# A registered verifier (jobs need a ticket in the registry for their first committee), then one job so that
# detail endpoints have something to find.
ticket="$(cast call --rpc-url "http://127.0.0.1:$rpc_port" "$market" "TICKET_STAKE()(uint256)" | cut -d' ' -f1)"
cast send -q --rpc-url "http://127.0.0.1:$rpc_port" --private-key "$key" --value "$ticket" "$market" \
  "registerVerifier(uint256)" 1
spec="(\"bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am\",\"tessera-pt/0.1\",(64,64,4,2,0,2,1,1,16,1),0x0000000000000000000000000000000000000000,1000000,0,0,4000000000,600,300,1,true)"
cast send -q --rpc-url "http://127.0.0.1:$rpc_port" --private-key "$key" --value 2000000 "$market" \
  "submitRenderJob((string,string,(uint32,uint32,uint32,uint32,uint32,uint32,uint32,uint32,uint32,uint64),address,uint96,uint16,uint96,uint32,uint32,uint32,uint8,bool))" "$spec"
TESSERA_DATABASE_URL="${admin%/*}/$db" "$bin" --rpc-url "ws://127.0.0.1:$rpc_port" --deployment "$deployment" \
  --listen "127.0.0.1:$api_port" --confirmations 1 & pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api_port/ready" >/dev/null && break; sleep 0.2; done
"$venv/bin/st" run "http://127.0.0.1:$api_port/openapi.json" --checks all --exclude-path /v1/stream \
  --max-examples "${ST_EXAMPLES:-200}" --phases examples,coverage,fuzzing --seed 1
