# shellcheck shell=bash
# Sourced by the tests of tests/scripts: every check runs, each failure is counted and printed,
# and the end says how it went.
#   fail MESSAGE...   one failed check (stderr), the test goes on
#   finish NAME       exit 1 if any check failed, else print "NAME: OK"
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$1: $failures failure(s)" >&2
    exit 1
  fi
  echo "$1: OK"
}
