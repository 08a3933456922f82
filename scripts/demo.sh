#!/usr/bin/env bash
# The main job: a whole Tessera network on this machine takes a demo job to verified and paid.
# Installs the toolchain the first time (scripts/setup.sh), builds the release binaries, then runs
# `tessera-localnet`: anvil, Postgres, the local IPFS node, the contracts, the indexer, two workers and a
# verifier; the artist's CLI posts assets/scenes/complete.glb as an 8-task job (4 frames x 2 regions), follows
# it live, fetches and checks the frames into ./demo-output, prints the indexer's view, and shuts down. The web
# app (web/) is built and served beside it, at an address it prints.
#   scripts/demo.sh [tessera-localnet flags, e.g. --frames 8 --spp 64 --out DIR, --keep to leave the network
#   and the web app running until Ctrl-C]
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
bash scripts/setup.sh
log "building the release binaries (the first build takes a few minutes)"
cargo build --release --locked --bins -p tessera-localnet -p tessera-worker -p tessera-cli -p tessera-indexer
log "building the web app (served by the demo; its address is printed)"
(cd web && npx vite build --logLevel warn)
log "starting the local network"
exec "$CARGO_TARGET_DIR/release/tessera-localnet" "$@"
