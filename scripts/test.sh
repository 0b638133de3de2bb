#!/usr/bin/env bash
# The project's test command (the README's second set-up command).
#
# Runs the whole test suite. Every backend-dependent test runs against BOTH SQLite
# and PostgreSQL, so this script makes sure a PostgreSQL server is reachable first
# (installing and starting Debian's package if the machine has none) and that the
# HubSpot conformance client (Python `hubspot-api-client`), the API tester that
# checks the served OpenAPI document (Python `schemathesis`) and Chromium with its
# chromedriver (the console's browser tests) are installed. Nothing is
# skipped: a missing dependency is a failure, not a silent pass.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${KEVA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export KEVA_TEST_POSTGRES_URL="$PG_URL"

pg_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -h 127.0.0.1 -p 5432 -q
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

ensure_postgres() {
  if pg_ready; then return 0; fi
  echo "PostgreSQL is not reachable on 127.0.0.1:5432; starting it" >&2
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
  local ver
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  # Trust auth on loopback, as the test URL expects (a throwaway test server).
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if ! grep -q "keva-sync tests" "$hba"; then
    sed -i '1i # keva-sync tests: trust on loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  pg_ready || { echo "PostgreSQL did not start" >&2; exit 1; }
  psql -h 127.0.0.1 -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null
}

ensure_python_client() {
  if python3 -c 'import hubspot' 2>/dev/null; then return 0; fi
  echo "installing HubSpot's official Python client for the conformance tests" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'hubspot-api-client==12.0.0'
}

# crates/cli/tests/api_contract.rs runs schemathesis against a quickstart.
ensure_api_tester() {
  if python3 -m schemathesis.cli --version 2>/dev/null | grep -q ' 4\.32\.5$'; then return 0; fi
  echo "installing schemathesis for the OpenAPI contract test" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
}

# The console's browser tests drive Debian's Chromium through its chromedriver.
ensure_browser() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then return 0; fi
  echo "installing Chromium and chromedriver for the console's browser tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
}

# Each PostgreSQL test runs in its own database (keva_test_<uuid>). Drop them when the
# run ends; databases still in use by another concurrent run are left alone (DROP
# without FORCE fails on them), and the tests themselves sweep ones older than an hour.
drop_test_databases() {
  psql -h 127.0.0.1 -U postgres -d postgres -tAc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'keva\_test\_%'" 2>/dev/null |
    while read -r db; do
      [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
    done
}

ensure_postgres
ensure_python_client
ensure_api_tester
ensure_browser
trap drop_test_databases EXIT

if cargo nextest --version >/dev/null 2>&1; then
  # The crates have no doctests, so nextest (which skips them) runs everything.
  cargo nextest run --workspace --all-features --no-fail-fast "$@"
else
  cargo test --workspace --all-features --no-fail-fast "$@"
fi
