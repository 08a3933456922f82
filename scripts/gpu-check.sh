#!/usr/bin/env bash
# GPU checks for the renderer, in two halves because the GPU machine has no Rust toolchain.
#   scripts/gpu-check.sh build   here: builds the release test binary and benchmark into .gpu/ (git-ignored)
#   scripts/gpu-check.sh run     there (device tool, carry .gpu): CPU-vs-CUDA conformance on every test scene,
#                                then the benchmark per backend at 1920x1080; logs under $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  build)
    source scripts/lib.sh
    mkdir -p .gpu
    cargo build --release --locked -p tessera-render --bins
    test_bin=$(cargo test --release --locked -p tessera-render --test it --no-run --message-format=json 2>/dev/null \
      | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
    cp "$test_bin" .gpu/render-it
    cp "$CARGO_TARGET_DIR/release/tessera-render-bench" "$CARGO_TARGET_DIR/release/tessera-render" .gpu/
    ls -la .gpu
    ;;
  run)
    out="${OUT:-/tmp/gpu-out}"
    mkdir -p "$out"
    nvidia-smi -L 2>&1 | tee "$out/device.txt" || true
    export TESSERA_ASSETS="$PWD/assets"
    # Conformance (prints SKIPPED if CUDA cannot be used: that is a failure here).
    ./.gpu/render-it conformance --nocapture --test-threads 1 2>&1 | tee "$out/conformance.txt"
    if grep -q "SKIPPED cpu_and_cuda" "$out/conformance.txt"; then echo "CUDA was not usable" >&2; exit 1; fi
    ./.gpu/tessera-render-bench --backend all --complete assets/scenes/complete.glb --spp 16 --bounces 8 \
      2>&1 | tee "$out/bench.txt"
    ./.gpu/tessera-render-bench --backend all --complete assets/scenes/complete.glb --spp 64 --bounces 8 \
      --scenes complete 2>&1 | tee -a "$out/bench.txt"
    ;;
  *)
    echo "usage: scripts/gpu-check.sh build|run" >&2
    exit 2
    ;;
esac
