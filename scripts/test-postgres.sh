# A PostgreSQL server on loopback for the test suite, made with the machine's own
# PostgreSQL binaries (Debian's package when none are installed). Sourced by test.sh.
#
# ensure_test_postgres exports CCHUB_TEST_POSTGRES_URL, a URL of a role that may create
# databases; the tests make one database per test hub. When the variable is already
# set, that server is used as it is.

TEST_PG_DIR="${CCHUB_TEST_PG_DIR:-/tmp/cchub-test-postgres}"
TEST_PG_PORT="${CCHUB_TEST_PG_PORT:-55432}"
TEST_PG_STARTED=""

pg_bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

ensure_test_postgres() {
  if [ -n "${CCHUB_TEST_POSTGRES_URL:-}" ]; then
    log "using the PostgreSQL server in CCHUB_TEST_POSTGRES_URL"
    return
  fi
  local bin
  bin=$(pg_bin_dir || true)
  if [ -z "$bin" ]; then
    log "installing PostgreSQL for the database tests"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    bin=$(pg_bin_dir) || die "PostgreSQL was installed but no initdb is under /usr/lib/postgresql"
  fi
  # The server refuses to run as root, so it runs as the package's postgres account.
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$TEST_PG_DIR" postgres

  local password_file="$TEST_PG_DIR/password"
  if [ ! -s "$password_file" ] || [ ! -f "$TEST_PG_DIR/data/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster for the tests in $TEST_PG_DIR"
    rm -rf "$TEST_PG_DIR"
    install -d -o postgres -g postgres -m 0700 "$TEST_PG_DIR"
    head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$password_file"
    chown postgres "$password_file"
    runuser -u postgres -- "$bin/initdb" --pgdata="$TEST_PG_DIR/data" --username=cchub \
      --pwfile="$password_file" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  local password
  password=$(cat "$password_file")

  if ! runuser -u postgres -- "$bin/pg_ctl" status --pgdata="$TEST_PG_DIR/data" >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$TEST_PG_PORT"
    runuser -u postgres -- "$bin/pg_ctl" start --wait --pgdata="$TEST_PG_DIR/data" \
      --log="$TEST_PG_DIR/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $TEST_PG_PORT -k $TEST_PG_DIR -c max_connections=300 -c fsync=off" \
      >/dev/null || die "PostgreSQL did not start; see $TEST_PG_DIR/server.log"
    TEST_PG_STARTED="$bin"
  fi
  export CCHUB_TEST_POSTGRES_URL="postgres://cchub:$password@127.0.0.1:$TEST_PG_PORT/postgres"
  # Databases left by earlier runs of the tests.
  PGPASSWORD="$password" psql -h 127.0.0.1 -p "$TEST_PG_PORT" -U cchub -d postgres -Atq \
    -c "SELECT datname FROM pg_database WHERE datname LIKE 'cchub_test_%'" 2>/dev/null |
    while read -r name; do
      PGPASSWORD="$password" psql -h 127.0.0.1 -p "$TEST_PG_PORT" -U cchub -d postgres -q \
        -c "DROP DATABASE IF EXISTS \"$name\"" >/dev/null 2>&1 || true
    done
}

# Stops the server when ensure_test_postgres started it.
stop_test_postgres() {
  if [ -n "$TEST_PG_STARTED" ]; then
    runuser -u postgres -- "$TEST_PG_STARTED/pg_ctl" stop --pgdata="$TEST_PG_DIR/data" --mode=fast >/dev/null 2>&1 || true
  fi
}
