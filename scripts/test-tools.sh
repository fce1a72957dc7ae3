# Tools the deployment tests use: nginx, openssl, docker-compose and promtool. Sourced
# by test.sh.

# Installs Debian packages without starting their services: nginx's package would
# otherwise start a server on port 80.
install_without_starting() {
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" || { [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d; return 1; }
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
}

ensure_deploy_test_tools() {
  local missing=""
  [ -x /usr/sbin/nginx ] || missing="$missing nginx"
  command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
  command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing="$missing docker-compose"
  command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
  if [ -n "$missing" ]; then
    log "installing tools for the deployment tests:$missing"
    install_without_starting $missing
  fi

  # promtool ships in Debian's prometheus package, whose server the tests do not want
  # running, so only the package's files are unpacked, into a cache folder.
  local cache="${CCHUB_TEST_TOOLS_DIR:-/var/cache/cchub-test-tools}"
  if [ ! -x "$cache/prometheus/usr/bin/promtool" ]; then
    log "unpacking promtool from Debian's prometheus package into $cache"
    mkdir -p "$cache/download"
    (cd "$cache/download" && rm -f prometheus_*.deb && apt-get download prometheus >/dev/null) \
      || die "cannot download Debian's prometheus package for promtool"
    dpkg-deb -x "$cache"/download/prometheus_*.deb "$cache/prometheus"
    rm -rf "$cache/download"
  fi
  export CCHUB_TEST_PROMTOOL="$cache/prometheus/usr/bin/promtool"
}
