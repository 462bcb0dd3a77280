#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS from its seeds (fuzz/README.md). Exits non-zero on the
# first crash, leak or sanitizer report; the failing input is kept in BUILD_DIR/artifacts/.
# Usage: bash fuzz/run.sh [build-dir]
set -euo pipefail

BUILD_DIR="${1:-build-fuzz}"
SECONDS_EACH="${FUZZ_SECONDS:-20}"
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d /tmp/rocketmart-fuzz.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BUILD_DIR/artifacts"

for seeds in "$HERE"/corpus/*/; do
  name="$(basename "$seeds")"
  fuzzer="$BUILD_DIR/fuzz/fuzz_$name"
  [ -x "$fuzzer" ] || { echo "fuzz: $fuzzer not built" >&2; exit 2; }
  # A scratch copy: new inputs the fuzzer finds must not land in the repository.
  mkdir -p "$WORK/$name"
  cp "$seeds"* "$WORK/$name/"
  echo "--- fuzz_$name for ${SECONDS_EACH}s"
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    "$fuzzer" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$BUILD_DIR/artifacts/${name}-" "$WORK/$name" \
      2>"$WORK/$name.log" || { tail -60 "$WORK/$name.log" >&2; echo "fuzz_$name FAILED" >&2; exit 1; }
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$WORK/$name.log" | tr '\n' ' '
  echo
done
echo "fuzz: all targets ran clean"
