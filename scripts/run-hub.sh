#!/usr/bin/env bash
# Sets up a fresh Debian or Ubuntu machine and runs the hub in the foreground:
# packages, the Rust toolchain, the Docker Engine, a release build, the workspace image.
#
# With CCHUB_MOCK_MODEL=1 it also starts the mock model kept for tests on
# 127.0.0.1:8787 (CCHUB_MOCK_MODEL_ADDRESS) and points the hub at it, to try cchub
# without a model key.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

require_root
install_packages
ensure_rust
ensure_docker

build_web

log "building cchub (release; the first build takes several minutes)"
cargo build --release --locked -p cchub -p cchub-testkit --bins
TARGET="${CARGO_TARGET_DIR:-target}"
CCHUB="$TARGET/release/cchub"

log "building the workspace image"
"$CCHUB" image build

if [ "${CCHUB_MOCK_MODEL:-0}" = 1 ]; then
  MOCK_ADDRESS="${CCHUB_MOCK_MODEL_ADDRESS:-127.0.0.1:8787}"
  log "starting the mock model on $MOCK_ADDRESS (log: /var/log/cchub-mock-model.log)"
  "$TARGET/release/cchub-mock-model" --listen "$MOCK_ADDRESS" >/var/log/cchub-mock-model.log 2>&1 &
  MOCK_PID=$!
  trap 'kill "$MOCK_PID" 2>/dev/null || true' EXIT
  export CCHUB_MODEL_UPSTREAM="http://$MOCK_ADDRESS"
fi

LISTEN="${CCHUB_LISTEN:-127.0.0.1:3001}"
echo
if [ -n "${CCHUB_CONFIG:-}" ]; then
  WHERE="data and settings from $CCHUB_CONFIG"
  ENV_HINT="CCHUB_CONFIG=$CCHUB_CONFIG "
else
  WHERE="data in ${CCHUB_DATA_DIR:-./workspace}"
  ENV_HINT="${CCHUB_DATA_DIR:+CCHUB_DATA_DIR=$CCHUB_DATA_DIR }"
fi
echo "cchub is starting on http://$LISTEN ($WHERE). Stop it with Ctrl+C; the workspace"
echo "containers keep running and the next start adopts them."
if ! "$CCHUB" user list --json 2>/dev/null | grep -q '"role": "admin"'; then
  cat <<MSG

Create the first administrator, from another terminal in this folder:
  printf '%s\n' 'a-long-password' | ${ENV_HINT}$CCHUB user add admin --admin --password-stdin
MSG
fi
if [ -z "${ANTHROPIC_API_KEY:-}" ] && [ -z "${CCHUB_MODEL_UPSTREAM:-}" ]; then
  cat <<MSG

ANTHROPIC_API_KEY is not set, so the agent cannot reach the real model. To try cchub
with the mock model kept for tests, stop this hub and run:
  CCHUB_MOCK_MODEL=1 scripts/run-hub.sh
MSG
fi
echo
if [ "${CCHUB_MOCK_MODEL:-0}" = 1 ]; then
  "$CCHUB" serve
else
  exec "$CCHUB" serve
fi
