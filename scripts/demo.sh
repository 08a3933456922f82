#!/usr/bin/env bash
# The main job: a whole Tessera network on this machine takes a demo job to verified and paid.
# Installs the toolchain the first time (scripts/setup.sh), builds the release binaries, then runs
# `tessera-localnet`: anvil, Postgres, the local IPFS node, the contracts, the indexer, two workers and a
# verifier; the artist's CLI posts assets/scenes/complete.glb as an 8-task job (4 frames x 2 regions), follows
# it live, fetches and checks the frames into ./demo-output, prints the indexer's view, and shuts down.
#   scripts/demo.sh [tessera-localnet flags, e.g. --frames 8 --spp 64 --out DIR]
source "$(dirname "$0")/lib.sh"
cd "$TESSERA_ROOT"
bash scripts/setup.sh
log "building the release binaries (the first build takes a few minutes)"
cargo build --release --locked --bins -p tessera-localnet -p tessera-worker -p tessera-cli -p tessera-indexer
log "starting the local network"
exec "$CARGO_TARGET_DIR/release/tessera-localnet" "$@"
