#!/usr/bin/env bash
# Runs the benchmarks in release mode; each prints the hub's p50 against a floor
# measured in the same run. Needs what scripts/test.sh sets up.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

require_root
install_packages
ensure_rust
ensure_docker
trap 'if [ -n "$DOCKERD_STARTED_PID" ]; then kill "$DOCKERD_STARTED_PID" 2>/dev/null || true; fi' EXIT

cargo build --release --locked -p cchub -p cchub-bench
TARGET="${CARGO_TARGET_DIR:-target}"
"$TARGET/release/cchub" image build
"$TARGET/release/cchub-bench"
