#!/usr/bin/env bash
# Sets up a fresh Debian or Ubuntu machine and runs the hub in the foreground:
# packages, the Rust toolchain, the Docker Engine, a release build, the workspace image.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

require_root
install_packages
ensure_rust
ensure_docker

log "building cchub (release; the first build takes several minutes)"
cargo build --release --locked -p cchub -p cchub-testkit --bins
CCHUB=./target/release/cchub

log "building the workspace image"
"$CCHUB" image build

LISTEN="${CCHUB_LISTEN:-127.0.0.1:3001}"
cat <<MSG

cchub is starting on http://$LISTEN (data in ${CCHUB_DATA_DIR:-./workspace}).

Create the first administrator, from another terminal in this folder:
  printf '%s\n' 'a-long-password' | $CCHUB user add admin --admin --password-stdin

MSG
if [ -z "${ANTHROPIC_API_KEY:-}" ] && [ -z "${CCHUB_MODEL_UPSTREAM:-}" ]; then
  cat <<MSG
ANTHROPIC_API_KEY is not set, so the agent cannot reach the real model. To try cchub
offline with the mock model kept for tests, stop this hub and run:
  ./target/release/cchub-mock-model --listen 127.0.0.1:8787 &
  CCHUB_MODEL_UPSTREAM=http://127.0.0.1:8787 scripts/run-hub.sh

MSG
fi
exec "$CCHUB" serve
