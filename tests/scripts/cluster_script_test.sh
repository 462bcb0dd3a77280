#!/usr/bin/env bash
# Tests scripts/cluster.sh itself (make cluster / make cluster-down), the real thing: `up` with one
# instance of every service starts etcd, Redis, PostgreSQL, a gateway and the four services; the
# gateway URL it prints answers GET /health, an admin creates a product through it (members' token
# key, the gateway's verification and internal identity, catalog on PostgreSQL) and GET /products
# lists it; `down` leaves no process it started running (every pid of DIR/pids and the postmaster).
# Whatever fails, the trap stops what was started and removes the folder.
# Usage: bash tests/scripts/cluster_script_test.sh [repo-root] [rocketmart-binary]
set -euo pipefail

ROOT="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="$(realpath -m "${2:-${ROCKETMART_BIN:-$ROOT/build/rocketmart}}")"
CLUSTER="$ROOT/scripts/cluster.sh"
WORK="$(mktemp -d /tmp/rocketmart-cluster-test.XXXXXX)"
# As root, PostgreSQL runs as the postgres user (scripts/lib/local_postgres.sh), which must be able
# to reach its directory below this one.
chmod 0755 "$WORK"
DIR="$WORK/cluster"
SEEN="$WORK/seen.pids" # every pid this test saw started: "name pid"
# shellcheck source=tests/scripts/lib/checks.sh
. "$(dirname "$0")/lib/checks.sh"

# A process is running when it exists and is not a zombie waiting for its parent.
running() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ "$state" != Z* ]]
}

remember_pids() {
  [ -f "$DIR/pids" ] && cat "$DIR/pids" >>"$SEEN"
  if [ -f "$DIR/postgres/data/postmaster.pid" ]; then
    echo "postgres $(head -1 "$DIR/postgres/data/postmaster.pid")" >>"$SEEN"
  fi
  return 0
}

cleanup() {
  local rc=$?
  remember_pids
  # The script's own way first (also after a failed `up`: DIR/pids lists what it had started)...
  if [ -f "$DIR/pids" ]; then
    ROCKETMART_BIN="$BIN" bash "$CLUSTER" down "$DIR" >"$WORK/cleanup-down.log" 2>&1 || true
  fi
  # ...then anything of ours still running, by pid (never by name).
  if [ -f "$SEEN" ]; then
    while read -r name pid; do
      [ -n "$pid" ] || continue
      if running "$pid"; then
        echo "cleanup: $name ($pid) still running, killed" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$SEEN"
  fi
  if [ "$rc" -ne 0 ] && [ -d "$DIR" ]; then
    for log in "$DIR"/*.log; do
      [ -f "$log" ] && { echo "--- $log" >&2; tail -5 "$log" >&2; }
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BIN" ] || { echo "cluster_script_test: $BIN is not an executable" >&2; exit 1; }
started_at=$SECONDS

# 1. up: one instance of every service, one gateway.
if ! CLUSTER_N=1 CLUSTER_GATEWAYS=1 ROCKETMART_BIN="$BIN" bash "$CLUSTER" up "$DIR" >"$WORK/up.out" 2>&1; then
  cat "$WORK/up.out" >&2
  echo "FAIL: scripts/cluster.sh up exited with an error" >&2
  exit 1
fi
remember_pids
echo "up in $((SECONDS - started_at)) s"
url="$(sed -n 's/^gateway: //p' "$WORK/up.out" | head -1)"
[[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || {
  cat "$WORK/up.out" >&2
  echo "FAIL: up printed no gateway URL" >&2
  exit 1
}
[ "$(cat "$DIR/gateway.url")" = "$url" ] || fail "DIR/gateway.url is not the printed URL $url"

names="$(awk '{print $1}' "$DIR/pids" | sort | tr '\n' ' ')"
[ "$names" = "catalog-0 checkout-0 etcd gateway-0 members-0 orders-0 redis " ] ||
  fail "DIR/pids names '$names', expected etcd, redis, a gateway and one instance of each service"
while read -r name pid; do
  running "$pid" || fail "$name ($pid) listed in DIR/pids is not running after up"
done <"$DIR/pids"
pg_pid="$(head -1 "$DIR/postgres/data/postmaster.pid" 2>/dev/null || true)"
if [ -z "$pg_pid" ] || ! running "$pg_pid"; then fail "no running postmaster for $DIR/postgres"; fi

# status URL [CURL ARGS...]: the HTTP status, retried for up to 10 s while it is not 2xx (an
# instance that just started may not yet be in the gateway's view of etcd).
status() {
  local url="$1" code=000
  shift
  for _ in $(seq 1 100); do
    code="$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 5 "$@" "$url" || true)"
    [[ "$code" == 2* ]] && break
    sleep 0.1
  done
  echo "$code"
}

# 2. The gateway answers, and forwards to the services.
code="$(status "$url/health")"
[ "$code" = 200 ] || fail "GET $url/health answered $code: $(cat "$WORK/body" 2>/dev/null)"

# An admin token signed with the cluster's key (the variables every process got).
token="$(
  set +u
  # shellcheck disable=SC1091
  . "$DIR/cluster.env"
  "$BIN" token --synthetic --member 1 --role admin --data-dir "$WORK/token"
)"
[ -n "$token" ] || fail "rocketmart token printed no token with DIR/cluster.env"
code="$(status "$url/products" -X POST -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' \
  --data '{"name":"Cluster script lamp","price":1200,"stock":3}')"
[ "$code" = 201 ] || fail "POST $url/products answered $code: $(cat "$WORK/body" 2>/dev/null)"
code="$(status "$url/products")"
[ "$code" = 200 ] || fail "GET $url/products answered $code: $(cat "$WORK/body" 2>/dev/null)"
grep -q '"Cluster script lamp"' "$WORK/body" ||
  fail "GET $url/products does not list the product created through the gateway: $(cat "$WORK/body")"

# 3. down: every process it started stops.
down_at=$SECONDS
ROCKETMART_BIN="$BIN" bash "$CLUSTER" down "$DIR" >"$WORK/down.out" 2>&1 || {
  cat "$WORK/down.out" >&2
  fail "scripts/cluster.sh down exited with an error"
}
echo "down in $((SECONDS - down_at)) s"
while read -r name pid; do
  [ -n "$pid" ] || continue
  if running "$pid"; then fail "$name ($pid) still running after down"; fi
done <"$SEEN"
[ ! -e "$DIR/pids" ] || fail "down left DIR/pids behind (a second up would refuse the folder)"
[ ! -e "$DIR/postgres/data/postmaster.pid" ] || fail "PostgreSQL's postmaster.pid is still there"
# Nothing else started from the folder (a child the pid list would not show).
left="$(pgrep -af -- "$DIR" || true)"
[ -z "$left" ] || fail "processes still running from $DIR: $left"
# A second down is harmless.
ROCKETMART_BIN="$BIN" bash "$CLUSTER" down "$DIR" >/dev/null 2>&1 || fail "a second down failed"

echo "cluster_script_test: $((SECONDS - started_at)) s"
finish cluster_script_test
