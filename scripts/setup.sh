#!/usr/bin/env bash
# Installs the Debian 12 packages rocketmart needs, by purpose:
#   setup.sh run     build and run the server (make build, make run)
#   setup.sh test    run + the test tools: GoogleTest, aiosmtpd, promtool, clang (fuzz), ... (make test)
#   setup.sh bench   run + the benchmark tools: nginx, wrk, locust, Google Benchmark (make bench)
#   setup.sh cluster run + the servers of a local cluster: PostgreSQL, Redis, etcd (make cluster)
#   setup.sh all     everything
# Options (before the group):
#   --dry-run   print what would be installed, change nothing
#   --list      print the group's packages, one a line, and exit
#
# It never touches a service the machine already has: nothing is stopped, disabled or killed.
# Packages that ship a daemon (nginx, prometheus, ...) must not be left running or enabled by this
# install when they were not installed before, so while apt-get runs a temporary
# /usr/sbin/policy-rc.d (only if none exists; removed afterwards) keeps every new daemon from
# starting, and afterwards the systemd units of the packages this run newly installed (and only
# those) are disabled. Idempotent: packages already present are skipped. Needs root (or sudo).
set -euo pipefail

# Test hooks (tests/scripts/setup_test.sh): where the policy file and systemd's runtime directory
# are. Never set in normal use.
POLICY_RC="${SETUP_POLICY_RC:-/usr/sbin/policy-rc.d}"
SYSTEMD_RUNTIME="${SETUP_SYSTEMD_RUNTIME:-/run/systemd/system}"
POLICY_MARKER="# rocketmart setup.sh: no daemon starts while it installs (removed afterwards)"

run_packages=(
  # toolchain
  g++ cmake make pkg-config git
  # libraries
  libboost1.81-dev libboost-json1.81-dev libsqlite3-dev libssl-dev libsodium-dev
  libcurl4-openssl-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev libmimalloc-dev
  # the Redis client (src/infra/redis: hiredis on the Asio event loop)
  libhiredis-dev
  # the PostgreSQL client library (src/infra/postgres links it)
  libpq-dev
)
# The storefront is bundled by make build (web/, Node.js >= 18 with npm); a Node.js already
# installed is kept.
command -v npm >/dev/null 2>&1 || run_packages+=(nodejs npm)
test_packages=(
  libgtest-dev libgmock-dev
  # the real SMTP server of the mail tests, promtool for the metrics test, sqlite3 and curl
  python3 python3-aiosmtpd prometheus sqlite3 curl procps
  # deploy_files reads deploy/compose.yaml (its systemd-analyze check runs where systemd is)
  python3-yaml
  # make check-format, the setup script's own lint, the sanitizer builds and the fuzz targets
  # (clang; its sanitizer runtimes and libFuzzer ship in clang's runtime libraries)
  clang-format shellcheck clang libclang-rt-14-dev
  # the storefront's browser tests (tests/browser: playwright-core drives Debian's chromium)
  chromium
  # the real Redis server the redis_* and contract;redis tests start (never the machine's service)
  redis-server
  # the PostgreSQL server the postgres_* tests start themselves (tests/support/local_postgres.*):
  # initdb into a temp dir, never the cluster the package may create (kept stopped, see above)
  postgresql-15
  # the etcd 3.4 the etcd-labelled tests start themselves (tests/support/local_etcd.*: a temp data
  # dir, free ports); the package's own service is kept stopped like every daemon here
  etcd-server
)
# tests/contract (OpenAPI validator, docs examples) runs on Node.js >= 18 with npm; a Node.js
# already installed is kept.
command -v npm >/dev/null 2>&1 || test_packages+=(nodejs npm)
bench_packages=(
  libbenchmark-dev
  # the yardstick (bench/run.sh starts its own nginx from its own config on a free port)
  nginx wrk python3 python3-locust curl procps
  # bench/storefront.sh: the drop page's first load in chromium
  chromium
  # Redis admission and streams benchmarks, and redis-benchmark (redis-tools) as their yardstick
  redis-server redis-tools
  # the PostgreSQL the benchmark starts beside SQLite (same way as the tests)
  postgresql-15
  # section 8's local cluster (scripts/cluster.sh): its etcd
  etcd-server
)

cluster_packages=(
  # make cluster (scripts/cluster.sh) starts its own of each, under the cluster's folder; the
  # packages' own services are kept stopped like every daemon here; curl and redis-tools are
  # what the script waits on them with
  postgresql-15 redis-server redis-tools etcd-server python3 curl
)

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

dry_run=0
list=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --list) list=1 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) break ;;
  esac
  shift
done
[ $# -eq 1 ] || usage
group="$1"

packages=()
case "$group" in
  run) packages=("${run_packages[@]}") ;;
  test) packages=("${run_packages[@]}" "${test_packages[@]}") ;;
  bench) packages=("${run_packages[@]}" "${bench_packages[@]}") ;;
  cluster) packages=("${run_packages[@]}" "${cluster_packages[@]}") ;;
  all) packages=("${run_packages[@]}" "${test_packages[@]}" "${bench_packages[@]}" "${cluster_packages[@]}") ;;
  *) usage ;;
esac
# Each package once, in order.
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | awk '!seen[$0]++')

if [ "$list" -eq 1 ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

installed_packages() {
  dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null | awk '$NF == "installed" {print $1}' |
    sort -u
}

missing=()
for p in "${packages[@]}"; do
  is_installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  [ "$dry_run" -eq 1 ] && echo "setup ($group): nothing to install"
  exit 0
fi
if [ "$dry_run" -eq 1 ]; then
  echo "setup ($group): would run apt-get update, then install: ${missing[*]}"
  echo "setup ($group): daemons of newly installed packages would be kept stopped and disabled"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# No daemon starts during the install: a policy-rc.d answering 101 ("action forbidden") to
# invoke-rc.d, which package scripts use to start services. One that exists already is the
# machine's own and is left alone.
policy_created=0
remove_policy() {
  if [ "$policy_created" -eq 1 ] && grep -qF "$POLICY_MARKER" "$POLICY_RC" 2>/dev/null; then
    $SUDO rm -f "$POLICY_RC"
  fi
}
trap remove_policy EXIT
if [ ! -e "$POLICY_RC" ]; then
  printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARKER" | $SUDO tee "$POLICY_RC" >/dev/null
  $SUDO chmod 755 "$POLICY_RC"
  policy_created=1
fi

before="$(installed_packages)"
echo "setup ($group): installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
install_status=0
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || install_status=$?
after="$(installed_packages)"
remove_policy
policy_created=0

# The systemd units of the packages this run installed (dependencies included), and only those,
# are disabled (and stopped, should one have started anyway): a service the machine had before is
# never touched.
if command -v systemctl >/dev/null 2>&1; then
  while read -r pkg; do
    [ -n "$pkg" ] || continue
    while read -r unit_path; do
      unit="$(basename "$unit_path")"
      echo "setup ($group): $unit came with $pkg: disabled"
      $SUDO systemctl disable --quiet "$unit" >/dev/null 2>&1 || true
      if [ -d "$SYSTEMD_RUNTIME" ]; then
        $SUDO systemctl stop "$unit" >/dev/null 2>&1 || true
      fi
    done < <(dpkg -L "$pkg" 2>/dev/null |
      grep -E '^(/usr)?/lib/systemd/system/[^/@]+\.(service|socket|timer)$' || true)
  done < <(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after"))
fi
if [ "$install_status" -ne 0 ]; then
  echo "setup ($group): apt-get install failed (exit $install_status)" >&2
  exit "$install_status"
fi
