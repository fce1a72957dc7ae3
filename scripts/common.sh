# Shared steps of run-hub.sh and test.sh: packages, the Rust toolchain and a running
# Docker Engine. Sourced, not run.

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" = 0 ] || die "run this as root (sudo $0): it installs packages and starts the Docker Engine"
}

# Debian or Ubuntu packages the hub and its image build use.
install_packages() {
  local wanted="docker.io debootstrap socat ca-certificates curl gcc libc6-dev git tar zstd npm apparmor e2fsprogs xfsprogs util-linux iptables"
  local missing=""
  for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
  done
  # A machine may already have Node.js and npm from elsewhere; do not replace them.
  if command -v npm >/dev/null 2>&1; then missing=$(echo "$missing" | sed 's/\bnpm\b//'); fi
  if command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1; then
    missing=$(echo "$missing" | sed 's/\bdocker.io\b//')
  fi
  missing=$(echo "$missing" | xargs)
  if [ -n "$missing" ]; then
    log "installing packages: $missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
  fi
}

# Builds the web UI into web/dist, which the hub serves at /.
build_web() {
  log "building the web UI"
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build)
}

# Rust 1.85 or newer; rustup when cargo is missing.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    log "installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal \
      || die "cannot install Rust; install Rust 1.85 or newer from https://rustup.rs and run again"
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  local version
  version=$(rustc --version | awk '{print $2}')
  case "$version" in
    1.[0-7][0-9].*|1.8[0-4].*) die "Rust $version is too old; cchub needs 1.85 or newer (rustup update)";;
  esac
}

DOCKERD_STARTED_PID=""

# Starts the Docker Engine unless it already responds. Sets DOCKERD_STARTED_PID when
# this script started it.
ensure_docker() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  if [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null; then
    log "started the Docker Engine with systemd"
  else
    log "starting dockerd (log: /var/log/cchub-dockerd.log)"
    setsid dockerd >/var/log/cchub-dockerd.log 2>&1 < /dev/null &
    DOCKERD_STARTED_PID=$!
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 0.5
  done
  die "the Docker Engine did not start within 30 s; see /var/log/cchub-dockerd.log"
}
