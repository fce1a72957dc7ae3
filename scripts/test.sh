#!/usr/bin/env bash
# Sets up a fresh Debian or Ubuntu machine and runs every test: unit tests and the
# end-to-end suite on the real Docker Engine with the real claude executable.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. scripts/test-postgres.sh
. scripts/test-tools.sh

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
ensure_test_postgres
trap 'stop_test_postgres; if [ -n "$DOCKERD_STARTED_PID" ]; then kill "$DOCKERD_STARTED_PID" 2>/dev/null || true; fi' EXIT
export CCHUB_TEST_REQUIRE_POSTGRES=1
ensure_deploy_test_tools

build_web
log "running the web UI unit tests"
(cd web && npm test)

log "building"
cargo build --locked --workspace --all-targets

log "building the workspace image"
"${CARGO_TARGET_DIR:-target}/debug/cchub" image build

log "running the tests (the store's on SQLite and PostgreSQL, the rest on SQLite)"
cargo test --locked --workspace -- --test-threads="${CCHUB_TEST_THREADS:-4}"

# The API and workspace suites again, each test hub on a PostgreSQL database of its own.
# The security suites do not touch the database and run once.
log "running the API tests on PostgreSQL"
CCHUB_TEST_BACKEND=postgres cargo test --locked -p cchub-e2e \
  --test auth --test bad_input --test audit --test usage --test files_api --test files_manage \
  --test sessions --test main_path --test containers --test runs --test abort --test secrets \
  --test metrics --test gc --test logs --test restart --test admission --test terminal \
  --test backup --test nginx --test isolation -- --test-threads="${CCHUB_TEST_THREADS:-4}"
log "all tests passed"
