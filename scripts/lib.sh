# Shared shell setup for Tessera's scripts: sourced, not run.
# Puts the native Foundry binaries first on PATH (never the npm launchers: they swallow exit codes),
# and points cargo at a target directory outside the clone so CI runs on one machine reuse it.

set -euo pipefail

TESSERA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TESSERA_ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera/target}"
# sqlx's checked queries build from the committed offline data (indexer/.sqlx); test.sh checks it is fresh.
export SQLX_OFFLINE="${SQLX_OFFLINE:-true}"
export TESSERA_VENV="${TESSERA_VENV:-$HOME/.cache/tessera/venv}"
# Open Image Denoise's libraries (scripts/setup.sh); tessera_render::denoise loads them from here.
export TESSERA_OIDN_DIR="${TESSERA_OIDN_DIR:-$HOME/.cache/tessera/oidn}"
FOUNDRY_BIN="$TESSERA_ROOT/node_modules/@foundry-rs"
export PATH="$FOUNDRY_BIN/forge-linux-amd64/bin:$FOUNDRY_BIN/anvil-linux-amd64/bin:$FOUNDRY_BIN/cast-linux-amd64/bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s %s\n' "$(date +%T)" "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The test steps, shared by scripts/test.sh and the canary (scripts/canary.sh), so that the canary proves
# that exactly these invocations turn red on a failing test.
forge_test() { (cd "$TESSERA_ROOT" && forge test "$@"); }
cargo_test() { (cd "$TESSERA_ROOT" && cargo test --locked "$@"); }
