#!/usr/bin/env bash
# Sets up a fresh Debian or Ubuntu machine and runs every test: unit tests and the
# end-to-end suite on the real Docker Engine with the real claude executable.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

require_root
install_packages
ensure_rust
ensure_docker
trap 'if [ -n "$DOCKERD_STARTED_PID" ]; then kill "$DOCKERD_STARTED_PID" 2>/dev/null || true; fi' EXIT

log "building"
cargo build --locked --workspace --all-targets

log "building the workspace image"
"${CARGO_TARGET_DIR:-target}/debug/cchub" image build

log "running the tests"
cargo test --locked --workspace -- --test-threads="${CCHUB_TEST_THREADS:-4}"
log "all tests passed"
