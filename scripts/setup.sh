#!/usr/bin/env bash
# Installs everything rocketmart needs to build, run, test and benchmark on Debian 12.
# Idempotent: packages already present are skipped by apt-get. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake make pkg-config git clang-format
  # fuzzing (libFuzzer ships with clang's runtime libraries)
  clang libclang-rt-14-dev
  # libraries
  libboost1.81-dev libboost-json1.81-dev libsqlite3-dev libssl-dev libsodium-dev
  libcurl4-openssl-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev libmimalloc-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev sqlite3 curl python3 procps
  nginx-light wrk python3-aiosmtpd python3-locust
  nodejs npm chromium  # storefront: bundling (web/, Node.js >= 18) and its browser tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx is only a benchmark yardstick: never leave the packaged service running on port 80.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
$SUDO pkill -x nginx >/dev/null 2>&1 || true
