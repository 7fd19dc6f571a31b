#!/usr/bin/env bash
# Installs every Debian 12 package Escalon needs to build, test, benchmark and run its demo.
# Idempotent: safe to run again; apt-get skips what is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libasan8 libubsan1                      # GCC 12's ASan/UBSan runtimes (a GCC sanitizer build by hand)
  libboost-dev libboost-graph-dev         # Graph (flow checks), Spirit X3 (expressions)
  libfmt-dev libyaml-cpp-dev libcli11-dev
  libhowardhinnant-date-dev tzdata        # IANA time zones on the system tz database
  nlohmann-json3-dev libsqlite3-dev sqlite3
  catch2 libbenchmark-dev
  pybind11-dev python3-dev python3-pytest python3-yaml python3-jsonschema
  python3-pip python3-setuptools python3-venv python3-wheel   # `pip install .` (tests/install/test_pip.sh)
  dpkg-dev file                           # cpack's .deb files: dpkg-shlibdeps finds their dependencies; CPackDeb needs `file`
  graphviz                                # `dot` renders `escalon graph` output in tests
  libssl-dev                              # libcrypto: SHA-256 content hashes of flow versions
  libsodium-dev                           # personal data sealed per case (erasure), the journal's hash chain
  libpqxx-dev libpq-dev                   # the PostgreSQL store (libpqxx 6.4 on libpq)
  libcurl4-openssl-dev                    # the mail (SMTP) and webhook (HTTP) channels
  python3-aiosmtpd                        # the SMTP sink of the channels' test (tests/delivery)
  # A PostgreSQL server for the store's tests: they start a throw-away one with pg_virtualenv
  # (postgresql-common). Installing `postgresql` on Debian also creates and starts a cluster
  # "main" on port 5432; the tests do not use it (`pg_ctlcluster 15 main stop` stops it).
  postgresql postgresql-common
  locales                                 # hr_HR/de_DE locales: tests that numbers ignore the locale
  # The sanitizer build and the libFuzzer targets in fuzz/ (scripts/test-sanitizers.sh,
  # scripts/fuzz.sh, scripts/test-fuzz.sh). Named, as recommends are not installed: clang's
  # ASan/UBSan runtimes, and llvm-symbolizer (llvm-14), without which a report has no file:line.
  clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14
)

# Locales the tests switch to (decimal comma); generated only when `locale -a` lacks them.
test_locales=(hr_HR.UTF-8 de_DE.UTF-8)

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
  echo "setup.sh: run as root (apt-get install needs it)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} packages already installed"
else
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# `locale -a` lists hr_HR.UTF-8 as hr_HR.utf8.
have_locale() { locale -a 2>/dev/null | grep -qix "$(printf '%s' "$1" | sed 's/\.UTF-8$/.utf8/I')"; }
generate=0
for l in "${test_locales[@]}"; do
  have_locale "$l" && continue
  generate=1
  # Uncomment "# hr_HR.UTF-8 UTF-8" in /etc/locale.gen, or add the line when it is not there.
  if grep -qE "^[# ]*${l//./\\.} UTF-8\$" /etc/locale.gen 2>/dev/null; then
    sed -i -E "s/^[# ]*(${l//./\\.} UTF-8)\$/\1/" /etc/locale.gen
  else
    echo "$l UTF-8" >> /etc/locale.gen
  fi
done
if [ "$generate" -eq 1 ]; then
  locale-gen
else
  echo "setup.sh: locales ${test_locales[*]} already generated"
fi
