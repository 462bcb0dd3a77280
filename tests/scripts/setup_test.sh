#!/usr/bin/env bash
# Tests scripts/setup.sh without changing this machine: the package groups, the Makefile's use of
# them, a dry run, shellcheck, and the install path itself run against stand-ins for apt-get,
# dpkg, dpkg-query, systemctl and sudo (first on PATH) that record what they are asked and keep a
# fake package database, so that the script's own logic (policy-rc.d, which units it disables,
# never touching a service that was there before) runs for real.
# Usage: bash tests/scripts/setup_test.sh [repo-root]
set -euo pipefail

ROOT="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
SETUP="$ROOT/scripts/setup.sh"
WORK="$(mktemp -d /tmp/rocketmart-setup-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=tests/scripts/lib/checks.sh
. "$(dirname "$0")/lib/checks.sh"
contains() { grep -qxF "$2" <<<"$1"; }

# 1. The groups: build/run needs no test or benchmark tool; tests and benchmarks add theirs.
run_list="$(bash "$SETUP" --list run)"
test_list="$(bash "$SETUP" --list test)"
bench_list="$(bash "$SETUP" --list bench)"
cluster_list="$(bash "$SETUP" --list cluster)"
all_list="$(bash "$SETUP" --list all)"
for p in g++ cmake libboost1.81-dev libsqlite3-dev libsodium-dev libspdlog-dev libpq-dev; do
  contains "$run_list" "$p" || fail "run lacks $p"
done
for p in libgtest-dev libgmock-dev python3-aiosmtpd prometheus nginx wrk python3-locust \
  libbenchmark-dev clang clang-format postgresql-15 etcd-server; do
  contains "$run_list" "$p" && fail "run installs $p (a test or benchmark tool)"
done
for p in libgtest-dev libgmock-dev python3-aiosmtpd prometheus clang libclang-rt-14-dev postgresql-15 \
  etcd-server; do
  contains "$test_list" "$p" || fail "test lacks $p"
done
for p in nginx wrk python3-locust; do
  contains "$test_list" "$p" && fail "test installs $p (a benchmark tool)"
done
for p in nginx wrk python3-locust libbenchmark-dev postgresql-15 etcd-server; do
  contains "$bench_list" "$p" || fail "bench lacks $p"
done
contains "$bench_list" libgtest-dev && fail "bench installs libgtest-dev"
for p in postgresql-15 redis-server etcd-server g++ cmake; do
  contains "$cluster_list" "$p" || fail "cluster lacks $p"
done
contains "$cluster_list" libgtest-dev && fail "cluster installs libgtest-dev"
while read -r p; do
  contains "$test_list" "$p" || fail "test lacks run's $p"
  contains "$bench_list" "$p" || fail "bench lacks run's $p"
done <<<"$run_list"
while read -r p; do contains "$all_list" "$p" || fail "all lacks $p"; done \
  <<<"$(printf '%s\n%s\n%s\n' "$test_list" "$bench_list" "$cluster_list")"
[ "$(sort <<<"$all_list" | uniq -d)" = "" ] || fail "all lists a package twice"
bash "$SETUP" nonsense 2>/dev/null && fail "an unknown group is accepted"

# 2. The Makefile: build and run install only the run group; test and bench their own.
make_plan() { make -n -C "$ROOT" --no-print-directory "$1" 2>/dev/null | grep 'scripts/setup.sh' | sort -u || true; }
[ "$(make_plan build)" = "bash scripts/setup.sh run" ] || fail "make build runs: $(make_plan build)"
[ "$(make_plan run)" = "bash scripts/setup.sh run" ] || fail "make run runs: $(make_plan run)"
[ "$(make_plan test)" = "bash scripts/setup.sh test" ] || fail "make test runs: $(make_plan test)"
[ "$(make_plan bench)" = "bash scripts/setup.sh bench" ] || fail "make bench runs: $(make_plan bench)"
[ "$(make_plan cluster)" = "bash scripts/setup.sh cluster" ] || fail "make cluster runs: $(make_plan cluster)"

# 3. Nothing in the script stops, disables or kills a service by name.
if grep -nE 'pkill|killall|kill |systemctl +(stop|disable|mask)[^"]*nginx|service +nginx' "$SETUP"; then
  fail "setup.sh names a service to stop or kill"
fi

# 4. shellcheck, when installed (make test installs it).
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck "$SETUP" || fail "shellcheck"
else
  echo "note: shellcheck not installed; lint skipped"
fi

# 5. The install path, against stand-ins. Fake package database: one "name" a line = installed.
STUBS="$WORK/bin"
mkdir -p "$STUBS"
DB="$WORK/installed"
LOG="$WORK/calls"
export SETUP_TEST_DB="$DB" SETUP_TEST_LOG="$LOG"
cat >"$STUBS/dpkg-query" <<'EOF'
#!/usr/bin/env bash
# dpkg-query -W -f='${Status}' PKG  |  dpkg-query -W -f='${Package} ${Status}\n'
fmt="" pkg=""
for a in "$@"; do case "$a" in -f=*) fmt="${a#-f=}" ;; -W) ;; *) pkg="$a" ;; esac; done
if [ -n "$pkg" ]; then
  grep -qxF "$pkg" "$SETUP_TEST_DB" || exit 1
  printf 'install ok installed'
else
  [ -n "$fmt" ] || exit 2
  while read -r p; do printf '%s install ok installed\n' "$p"; done <"$SETUP_TEST_DB"
fi
EOF
cat >"$STUBS/apt-get" <<'EOF'
#!/usr/bin/env bash
echo "apt-get $*" >>"$SETUP_TEST_LOG"
if [ "$1" = install ]; then
  # What a package's maintainer script does: ask invoke-rc.d (hence policy-rc.d) to start it.
  if [ -x "$SETUP_POLICY_RC" ]; then
    rc=0; "$SETUP_POLICY_RC" nginx start || rc=$?
    echo "policy-rc.d answered $rc" >>"$SETUP_TEST_LOG"
  else
    echo "policy-rc.d absent" >>"$SETUP_TEST_LOG"
  fi
  for a in "$@"; do
    case "$a" in -*|install) ;; *) echo "$a" >>"$SETUP_TEST_DB" ;; esac
  done
  # A dependency with a daemon of its own comes along.
  echo "fake-daemon-dep" >>"$SETUP_TEST_DB"
  [ -z "${SETUP_TEST_FAIL_INSTALL:-}" ] || exit 100
fi
exit 0
EOF
cat >"$STUBS/dpkg" <<'EOF'
#!/usr/bin/env bash
# dpkg -L PKG: the files a package installed.
[ "$1" = -L ] || exit 2
case "$2" in
  prometheus) printf '/usr/bin/prometheus\n/lib/systemd/system/prometheus.service\n' ;;
  fake-daemon-dep) printf '/usr/lib/systemd/system/fake-daemon.socket\n/usr/lib/systemd/system/fake-daemon@.service\n' ;;
  nginx) printf '/usr/sbin/nginx\n/lib/systemd/system/nginx.service\n' ;;
  *) printf '/usr/share/doc/%s/copyright\n' "$2" ;;
esac
EOF
cat >"$STUBS/systemctl" <<'EOF'
#!/usr/bin/env bash
echo "systemctl $*" >>"$SETUP_TEST_LOG"
EOF
cat >"$STUBS/sudo" <<'EOF'
#!/usr/bin/env bash
exec "$@"
EOF
for cmd in pkill killall; do
  # shellcheck disable=SC2016  # the stub expands $* and the log variable when it runs
  printf '#!/usr/bin/env bash\necho "%s $*" >>"$SETUP_TEST_LOG"\n' "$cmd" >"$STUBS/$cmd"
done
chmod +x "$STUBS"/*

fresh_machine() {
  # nginx (with its running service) was there before; the test tools were not.
  printf '%s\n' nginx nginx-common >"$DB"
  bash "$SETUP" --list run >>"$DB"
  : >"$LOG"
}
run_setup() {  # run_setup GROUP -> exit status, with the stand-ins first on PATH
  PATH="$STUBS:$PATH" SETUP_POLICY_RC="$WORK/policy-rc.d" SETUP_SYSTEMD_RUNTIME="$WORK/run-systemd" \
    bash "$SETUP" "$@" >"$WORK/out" 2>&1
}
mkdir -p "$WORK/run-systemd"

# 5a. No policy-rc.d on the machine: one exists during the install (daemons are not started) and
# is gone afterwards; units of newly installed packages are disabled, nginx's never.
fresh_machine
rm -f "$WORK/policy-rc.d"
run_setup test || fail "setup test failed: $(cat "$WORK/out")"
calls="$(cat "$LOG")"
grep -qx "apt-get update -qq" <<<"$calls" || fail "no apt-get update"
[ "$(grep -n '^apt-get update' <<<"$calls" | cut -d: -f1)" -lt \
  "$(grep -n '^apt-get .*install' <<<"$calls" | cut -d: -f1)" ] || fail "update is not before install"
grep -qx "policy-rc.d answered 101" <<<"$calls" || fail "daemons could start during the install: $calls"
[ ! -e "$WORK/policy-rc.d" ] || fail "the temporary policy-rc.d was left behind"
grep -qx "systemctl disable --quiet prometheus.service" <<<"$calls" || fail "prometheus left enabled"
grep -qx "systemctl disable --quiet fake-daemon.socket" <<<"$calls" || fail "a new dependency's unit left enabled"
grep -q "nginx" <<<"$(grep -E '^(systemctl|pkill|killall)' <<<"$calls")" &&
  fail "nginx, which was there before, was touched: $calls"
grep -qE '^(pkill|killall)' <<<"$calls" && fail "something was killed: $calls"
grep -q "fake-daemon@" <<<"$calls" && fail "a template unit was disabled"

# 5b. The machine's own policy-rc.d is left exactly as it was.
fresh_machine
printf '#!/bin/sh\n# the machine'"'"'s own\nexit 0\n' >"$WORK/policy-rc.d"
chmod 755 "$WORK/policy-rc.d"
cp "$WORK/policy-rc.d" "$WORK/policy-rc.d.orig"
run_setup test || fail "setup test (own policy-rc.d) failed: $(cat "$WORK/out")"
cmp -s "$WORK/policy-rc.d" "$WORK/policy-rc.d.orig" || fail "the machine's policy-rc.d was changed"
grep -qx "policy-rc.d answered 0" "$LOG" || fail "the machine's policy-rc.d was not the one in force"
rm -f "$WORK/policy-rc.d"

# 5c. Everything present: no apt-get at all. Bench on a machine with nginx: nginx untouched.
fresh_machine
bash "$SETUP" --list all >>"$DB"
run_setup all || fail "setup all (nothing missing) failed"
[ ! -s "$LOG" ] || fail "calls with nothing missing: $(cat "$LOG")"
fresh_machine
run_setup bench || fail "setup bench failed: $(cat "$WORK/out")"
grep -q "nginx" <<<"$(grep -E '^(apt-get .*install|systemctl|pkill)' "$LOG")" &&
  fail "bench touched the existing nginx: $(cat "$LOG")"

# 5d. A failed install still leaves no daemon enabled and no policy file, and fails.
fresh_machine
if SETUP_TEST_FAIL_INSTALL=1 run_setup test; then fail "a failed install exited 0"; fi
grep -qx "systemctl disable --quiet fake-daemon.socket" "$LOG" || fail "failed install: units left enabled"
[ ! -e "$WORK/policy-rc.d" ] || fail "failed install: policy-rc.d left behind"

# 5e. A dry run changes nothing and says what it would install.
fresh_machine
run_setup --dry-run test || fail "dry run failed"
[ ! -s "$LOG" ] || fail "a dry run called: $(cat "$LOG")"
grep -q "would run apt-get update, then install: .*libgtest-dev" "$WORK/out" || fail "dry run output: $(cat "$WORK/out")"

finish setup.sh
