#!/usr/bin/env bash
# Sets up a fresh Debian or Ubuntu machine and runs every test: unit tests and the
# end-to-end suite on the real Docker Engine with the real claude executable.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

require_root
install_packages
# Debian's Chromium, driven by playwright-core in the web UI tests, and a Chinese font so
# that its screenshots show the zh-CN pages legibly.
if ! [ -x /usr/bin/chromium ] || ! dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null | grep -q "ok installed"; then
  log "installing chromium and a Chinese font for the browser tests"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei
fi
ensure_rust
ensure_docker
trap 'if [ -n "$DOCKERD_STARTED_PID" ]; then kill "$DOCKERD_STARTED_PID" 2>/dev/null || true; fi' EXIT

build_web
log "running the web UI unit tests"
(cd web && npm test)

log "building"
cargo build --locked --workspace --all-targets

log "building the workspace image"
"${CARGO_TARGET_DIR:-target}/debug/cchub" image build

log "running the tests"
cargo test --locked --workspace -- --test-threads="${CCHUB_TEST_THREADS:-4}"
log "all tests passed"
