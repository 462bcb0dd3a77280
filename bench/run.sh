#!/usr/bin/env bash
# rocketmart benchmarks, all in one run on this machine so the numbers compare as ratios:
#   1. nginx (Debian's nginx-light) `return 200 "ok"` under wrk: the yardstick.
#   2. rocketmart GET /health and GET /products/1 under the same wrk.
#   3. sold-out answers: wrk posting /payment/request to a stock-0 product (same wrk settings),
#      then rocketmart-load --scenario soldout (async driver, with correctness checks).
#   4. the original's drop scenario at full scale (100 000 members, 1 000 000 attempts, stock
#      10 000, 20% leave at payment entry, 20% of payments declined by the simulated provider).
#   5. durable paid orders with storage.synchronous=full, at 64 and at 256 connections.
#   6. the same on PostgreSQL 15 (every service on a database of its own, fsync and
#      synchronous_commit on), beside pgbench committing a one-row UPDATE per transaction on the
#      same server: durable orders at 64 and 256 connections and the drop (BENCH_POSTGRES=0 skips).
#   7. Redis (a throwaway redis-server: AOF everysec, noeviction) beside it, on PostgreSQL with
#      redis.url set and events.transport = redis-streams: sold-out answers and the drop through
#      Redis admission (ratios to sections 3, 4 and 6), redis-benchmark running an EVALSHA of an
#      admit-like script on the same server (the yardstick), and event delivery commit -> effect
#      through Redis Streams at EVENTS_RATE (build/events_bench) (BENCH_REDIS=0 skips).
#   8. the local cluster (scripts/cluster.sh: etcd, PostgreSQL, Redis, CLUSTER_N instances of each
#      service, CLUSTER_GATEWAYS gateways; 1 and 1 by default on 2 cores): section 4's drop and
#      section 3's sold-out answers through the gateway, beside the embedded drop (section 4) and
#      nginx (section 1) of the same sitting (BENCH_CLUSTER=0 skips).
# Every process and temp dir is removed on exit; every step is bounded in time.
# Usage: bash bench/run.sh [build-dir]   (make bench)
# Smaller: BENCH_SMOKE=1 (every section shrunk to a few seconds: a few minutes in all; the numbers
# are then indicative only), or the size variables below one by one. BENCH_ONLY=4,8 runs only
# the sections listed (2 and 3 go together; 8 brings 1 and 4 along, its yardsticks).
set -euo pipefail

BUILD_DIR="${1:-build}"
BIN="$BUILD_DIR/rocketmart"
LOAD="$BUILD_DIR/rocketmart-load"
BENCH_SMOKE="${BENCH_SMOKE:-0}"
if [ "$BENCH_SMOKE" = 1 ]; then
  WRK_SECONDS="${WRK_SECONDS:-3}"
  DROP_MEMBERS="${DROP_MEMBERS:-5000}"
  DROP_ATTEMPTS="${DROP_ATTEMPTS:-20000}"
  DROP_STOCK="${DROP_STOCK:-1000}"
  ORDERS_ATTEMPTS="${ORDERS_ATTEMPTS:-5000}"
  REDIS_BENCH_REQUESTS="${REDIS_BENCH_REQUESTS:-100000}"
  EVENTS_COUNT="${EVENTS_COUNT:-30000}"
fi
WRK_SECONDS="${WRK_SECONDS:-10}"  # each wrk and pgbench run, and the sold-out load's duration
WRK_ARGS=(-t1 -c64 "-d${WRK_SECONDS}s" --latency)
DROP_MEMBERS="${DROP_MEMBERS:-100000}"
DROP_ATTEMPTS="${DROP_ATTEMPTS:-1000000}"
DROP_STOCK="${DROP_STOCK:-10000}"
ORDERS_ATTEMPTS="${ORDERS_ATTEMPTS:-200000}"
CONNECTIONS="${CONNECTIONS:-64}"
ORDERS_WIDE_CONNECTIONS="${ORDERS_WIDE_CONNECTIONS:-256}"
BENCH_POSTGRES="${BENCH_POSTGRES:-1}"
BENCH_REDIS="${BENCH_REDIS:-1}"
BENCH_CLUSTER="${BENCH_CLUSTER:-1}"
CLUSTER_N="${CLUSTER_N:-1}"                # section 8: instances of each service
CLUSTER_GATEWAYS="${CLUSTER_GATEWAYS:-1}"  # section 8: gateways (the load goes to the first)
BENCH_ONLY="${BENCH_ONLY:-}"               # e.g. 8 or 4,6: only these sections (empty: all)
if [ -n "$BENCH_ONLY" ] && [[ ",$BENCH_ONLY," == *,8,* ]] && [ "$BENCH_CLUSTER" = 1 ]; then
  BENCH_ONLY="$BENCH_ONLY,1,4"  # the cluster's figures are read beside nginx and the embedded drop
fi
want() {  # want N...: is one of these sections to run?
  [ -z "$BENCH_ONLY" ] && return 0
  local n
  for n in "$@"; do [[ ",$BENCH_ONLY," == *,$n,* ]] && return 0; done
  return 1
}
if ! want 6; then BENCH_POSTGRES=0; fi
if ! want 7; then BENCH_REDIS=0; fi
if ! want 8; then BENCH_CLUSTER=0; fi
REDIS_BENCH_REQUESTS="${REDIS_BENCH_REQUESTS:-1000000}"  # per redis-benchmark run
EVENTS_COUNT="${EVENTS_COUNT:-100000}"                   # events_bench: events in the run
EVENTS_RATE="${EVENTS_RATE:-10000}"                      # events_bench: target events/s
# shellcheck source=../scripts/lib/local_postgres.sh
source "$(dirname "$0")/../scripts/lib/local_postgres.sh"
# shellcheck source=../scripts/lib/local_redis.sh
source "$(dirname "$0")/../scripts/lib/local_redis.sh"

EVENTS_BENCH="$BUILD_DIR/events_bench"
tools=("$BIN" "$LOAD")
if [ "$BENCH_REDIS" = 1 ]; then tools+=("$EVENTS_BENCH"); fi
for tool in "${tools[@]}"; do
  [ -x "$tool" ] || { echo "bench: $tool not built (cmake --build $BUILD_DIR)" >&2; exit 2; }
done
tools=(nginx wrk python3 timeout)
if [ "$BENCH_REDIS" = 1 ]; then tools+=(redis-server redis-cli redis-benchmark); fi
if [ "$BENCH_CLUSTER" = 1 ]; then tools+=(etcd redis-server redis-cli psql); fi
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (bash scripts/setup.sh bench)" >&2; exit 2; }
done
NGINX="$(command -v nginx)"

WORK="$(mktemp -d /tmp/rocketmart-bench.XXXXXX)"
PIDS=()
PG_WORK=""
REDIS_WORK=""
CLUSTER_WORK=""
CLUSTER_SH="$(dirname "$0")/../scripts/cluster.sh"
cleanup() {
  if [ -n "$CLUSTER_WORK" ]; then
    bash "$CLUSTER_SH" down "$CLUSTER_WORK" >/dev/null 2>&1 || true
    rm -rf "$CLUSTER_WORK"
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # SIGKILL after 30 s: one server was seen to ignore a SIGTERM sent right after its start.
  for p in "${PIDS[@]}"; do stop_pid "$p"; wait "$p" 2>/dev/null || true; done
  local_pg_stop
  local_redis_stop
  rm -rf "$WORK"
  if [ -n "$PG_WORK" ]; then rm -rf "$PG_WORK"; fi
  if [ -n "$REDIS_WORK" ]; then rm -rf "$REDIS_WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wrk_run NAME URL [lua] -> prints wrk's output, records req/s and p99 in $WORK/NAME.{rps,p99}
wrk_run() {
  local name="$1" url="$2" script="${3:-}"
  local args=("${WRK_ARGS[@]}")
  [ -n "$script" ] && args+=(-s "$script")
  echo "--- wrk ${args[*]} $url ($name)"
  timeout 40 wrk "${args[@]}" "$url" | tee "$WORK/$name.wrk"
  awk '/^Requests\/sec:/ {printf "%d", $2}' "$WORK/$name.wrk" >"$WORK/$name.rps"
  awk '$1=="99%" {print $2}' "$WORK/$name.wrk" >"$WORK/$name.p99"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  timeout 30 tail --pid="$1" -f /dev/null 2>/dev/null || kill -9 "$1" 2>/dev/null || true
}

# start_server NAME [ENV=VALUE...] -> sets PORT, SERVER_PID, DATA
start_server() {
  local name="$1"; shift
  SERVER_ENV=("$@")
  DATA="$WORK/$name-data"
  mkdir -p "$DATA"
  # The load comes from one address with few tokens, far past a person's rate: the gateway's
  # per-member and per-address limits (on by default) are off for the measurements.
  env ROCKETMART_LOG_ACCESS_LOG=false ROCKETMART_LOG_LEVEL=warn ROCKETMART_SERVER_ADMIN_PORT=0 \
    ROCKETMART_GATEWAY_RATE_PER_MEMBER_PER_S=0 ROCKETMART_GATEWAY_RATE_PER_IP_PER_S=0 "$@" \
    "$BIN" serve --port 0 --host 127.0.0.1 --data-dir "$DATA" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  PORT=""
  for _ in $(seq 1 150); do
    # (the file may not exist yet: the background shell opens it)
    PORT="$(sed -n 's#^rocketmart listening on http://[^:]*:\([0-9]*\).*#\1#p' "$WORK/$name.out" 2>/dev/null || true)"
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "bench: $name did not start" >&2; exit 1; }
  echo "=== rocketmart ($name) on 127.0.0.1:$PORT, data $DATA, env: $*"
}

load_run() {  # load_run NAME LIMIT_S ARGS... -> RESULT json in $WORK/NAME.json
  local name="$1" limit="$2"; shift 2
  echo "--- rocketmart-load $*"
  local rc=0
  # SERVER_ENV: the server's database URLs, so the read-back looks where the server writes.
  timeout "$limit" env "${SERVER_ENV[@]}" "$LOAD" --url "http://127.0.0.1:$PORT" --data-dir "$DATA" "$@" \
    | tee "$WORK/$name.load" || rc=$?
  sed -n 's/^RESULT //p' "$WORK/$name.load" >"$WORK/$name.json"
  [ "$rc" -eq 0 ] || echo "!!! rocketmart-load $name exited $rc (correctness check failed or timeout)"
  return 0
}

# soldout_setup NAME: a stock-0 product on the running server, a member's token, and
# $WORK/NAME.lua for wrk posting /payment/request for it (and one sample answer printed).
soldout_setup() {
  local name="$1" product token
  timeout 60 env "${SERVER_ENV[@]}" "$LOAD" --url "http://127.0.0.1:$PORT" --data-dir "$DATA" \
    --scenario soldout --setup-only --members 1 --tokens-file "$WORK/$name.tokens" |
    tee "$WORK/$name-setup.out" ||
    { echo "bench: the sold-out scenario's setup failed or timed out (above); stopping" >&2; exit 1; }
  product="$(sed -n 's/^product_id=\([0-9]*\).*/\1/p' "$WORK/$name-setup.out")"
  token="$(head -1 "$WORK/$name.tokens")"
  cat >"$WORK/$name.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"productId":$product,"amount":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
EOF
  echo "sample answer: $(curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
    -d "{\"productId\":$product,\"amount\":1}" -w ' HTTP %{http_code}' "http://127.0.0.1:$PORT/payment/request")"
}

json() {  # json NAME FIELD
  python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1]))[sys.argv[2]])
except Exception: print("n/a")' "$WORK/$1.json" "$2"
}

echo "machine: $(nproc) cores, $(uname -srm), $(date -u +%FT%TZ)"
echo "nginx: $("$NGINX" -v 2>&1)"

# 1. nginx
if want 1; then
  NGX="$WORK/nginx"
  mkdir -p "$NGX/logs"
  NGX_PORT="$(free_port)"
  cat >"$NGX/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $NGX/body; proxy_temp_path $NGX/proxy; fastcgi_temp_path $NGX/fcgi;
  uwsgi_temp_path $NGX/uwsgi; scgi_temp_path $NGX/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
EOF
  "$NGINX" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" &
  NGX_PID=$!
  PIDS+=("$NGX_PID")
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$NGX_PORT/" >/dev/null && break; sleep 0.1; done
  echo "=== nginx on 127.0.0.1:$NGX_PORT"
  wrk_run nginx "http://127.0.0.1:$NGX_PORT/"
  stop_pid "$NGX_PID"
fi

# 2-3. rocketmart reads and sold-out answers
if want 2 3; then
  start_server reads
  wrk_run health "http://127.0.0.1:$PORT/health"
  curl -sf "http://127.0.0.1:$PORT/products/1" >/dev/null || echo "!!! GET /products/1 is not 200"
  wrk_run product "http://127.0.0.1:$PORT/products/1"
  soldout_setup soldout
  wrk_run soldout "http://127.0.0.1:$PORT/payment/request" "$WORK/soldout.lua"
  load_run soldout-load 120 --scenario soldout --members 1000 --attempts 2000000 \
    --duration "$WRK_SECONDS" --connections "$CONNECTIONS"
  stop_pid "$SERVER_PID"
fi

# 4. the original's drop scenario at full scale
if want 4; then
  start_server drop ROCKETMART_PAYMENT_DECLINE_PERCENT=20
  load_run drop 600 --scenario drop --members "$DROP_MEMBERS" --attempts "$DROP_ATTEMPTS" \
    --stock "$DROP_STOCK" --leave 0.2 --seed 1 --connections "$CONNECTIONS" --duration 300
  stop_pid "$SERVER_PID"
fi

# 5. durable orders, synchronous=FULL
if want 5; then
  start_server orders ROCKETMART_STORAGE_SYNCHRONOUS=full ROCKETMART_PAYMENT_DECLINE_PERCENT=0
  load_run orders 300 --scenario orders --members 1000 --attempts "$ORDERS_ATTEMPTS" \
    --stock 100000000 --per-member-limit 10000 --connections "$CONNECTIONS" --duration 60
  stop_pid "$SERVER_PID"

  # 5b. the same with more requests in flight: bigger group commits per fsync
  start_server orders-wide ROCKETMART_STORAGE_SYNCHRONOUS=full ROCKETMART_PAYMENT_DECLINE_PERCENT=0
  load_run orders-wide 300 --scenario orders --members 1000 --attempts "$ORDERS_ATTEMPTS" \
    --stock 100000000 --per-member-limit 10000 --connections "$ORDERS_WIDE_CONNECTIONS" --duration 60
  stop_pid "$SERVER_PID"
fi

# 6. PostgreSQL: the same durable orders and drop with every service on its own database, and
#    pgbench's one-row UPDATE per transaction on the same server as the yardstick.
PG_DB_N=0
pg_service_env() {  # -> PG_ENV: fresh databases for the four services
  PG_ENV=()
  PG_DB_N=$((PG_DB_N + 1))
  for service in members catalog checkout orders; do
    PG_ENV+=("ROCKETMART_${service^^}_DATABASE_URL=$(local_pg_create_db "${service}_$PG_DB_N")")
  done
}
pgbench_run() {  # pgbench_run NAME CONNECTIONS -> $WORK/NAME.tps
  echo "--- pgbench -n -c $2 -j 2 -T $WRK_SECONDS -f one-row-update.sql"
  timeout 60 pgbench -n -h 127.0.0.1 -p "$LOCAL_PG_PORT" -U rocketmart -c "$2" -j 2 -T "$WRK_SECONDS" \
    -f "$WORK/one-row-update.sql" pgbench | tee "$WORK/$1.pgbench"
  awk '/^tps = / {printf "%d", $3}' "$WORK/$1.pgbench" >"$WORK/$1.tps"
}
if [ "$BENCH_POSTGRES" = 1 ]; then
  PG_WORK="$(mktemp -d /tmp/rocketmart-bench-pg.XXXXXX)"
  local_pg_start "$PG_WORK" max_connections=400 shared_buffers=256MB
  echo "=== PostgreSQL $("$LOCAL_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$LOCAL_PG_PORT (fsync on, synchronous_commit on)"
  local_pg_create_db pgbench >/dev/null
  timeout 120 pgbench -q -i -s 10 -h 127.0.0.1 -p "$LOCAL_PG_PORT" -U rocketmart pgbench >/dev/null 2>&1
  printf '%s\n' '\set aid random(1, 1000000)' \
    'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;' >"$WORK/one-row-update.sql"
  pgbench_run pgbench "$CONNECTIONS"
  pgbench_run pgbench-wide "$ORDERS_WIDE_CONNECTIONS"

  pg_service_env
  start_server pg-orders ROCKETMART_PAYMENT_DECLINE_PERCENT=0 "${PG_ENV[@]}"
  load_run pg-orders 300 --scenario orders --members 1000 --attempts "$ORDERS_ATTEMPTS" \
    --stock 100000000 --per-member-limit 10000 --connections "$CONNECTIONS" --duration 60
  stop_pid "$SERVER_PID"

  pg_service_env
  start_server pg-orders-wide ROCKETMART_PAYMENT_DECLINE_PERCENT=0 "${PG_ENV[@]}"
  load_run pg-orders-wide 300 --scenario orders --members 1000 --attempts "$ORDERS_ATTEMPTS" \
    --stock 100000000 --per-member-limit 10000 --connections "$ORDERS_WIDE_CONNECTIONS" --duration 60
  stop_pid "$SERVER_PID"

  pg_service_env
  start_server pg-drop ROCKETMART_PAYMENT_DECLINE_PERCENT=20 "${PG_ENV[@]}"
  load_run pg-drop 600 --scenario drop --members "$DROP_MEMBERS" --attempts "$DROP_ATTEMPTS" \
    --stock "$DROP_STOCK" --leave 0.2 --seed 1 --connections "$CONNECTIONS" --duration 300
  stop_pid "$SERVER_PID"
fi

# 7. Redis: admission and events through a redis-server of our own, the servers on PostgreSQL
#    (section 6's server when it ran, else one of its own), beside redis-benchmark on the same
#    server running an admit-like EVALSHA.
if [ "$BENCH_REDIS" = 1 ]; then
  REDIS_WORK="$(mktemp -d /tmp/rocketmart-bench-redis.XXXXXX)"
  local_redis_start "$REDIS_WORK"
  echo "=== Redis $(redis-server --version | awk '{print $3}') on 127.0.0.1:$LOCAL_REDIS_PORT (appendonly yes, appendfsync everysec, maxmemory-policy noeviction)"
  if [ -z "$PG_WORK" ]; then
    PG_WORK="$(mktemp -d /tmp/rocketmart-bench-pg.XXXXXX)"
    local_pg_start "$PG_WORK" max_connections=400 shared_buffers=256MB
    echo "=== PostgreSQL $("$LOCAL_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$LOCAL_PG_PORT (for the Redis sitting)"
  fi
  REDIS_N=0
  redis_service_env() {  # -> REDIS_ENV: fresh databases, Redis admission and Redis Streams events
    REDIS_N=$((REDIS_N + 1))
    pg_service_env
    REDIS_ENV=("${PG_ENV[@]}" "ROCKETMART_REDIS_URL=$LOCAL_REDIS_URL"
      "ROCKETMART_REDIS_KEY_PREFIX=bench$REDIS_N:" ROCKETMART_EVENTS_TRANSPORT=redis-streams
      ROCKETMART_CHECKOUT_RECONCILE_INTERVAL_S=5)
  }

  # Sold-out answers through Redis admission: the same wrk and rocketmart-load as section 3.
  redis_service_env
  start_server redis-reads "${REDIS_ENV[@]}"
  soldout_setup redis-soldout
  wrk_run redis-soldout "http://127.0.0.1:$PORT/payment/request" "$WORK/redis-soldout.lua"
  load_run redis-soldout-load 120 --scenario soldout --members 1000 --attempts 2000000 \
    --duration "$WRK_SECONDS" --connections "$CONNECTIONS"
  stop_pid "$SERVER_PID"

  # The drop with Redis admission: the same as sections 4 and 6.
  redis_service_env
  start_server redis-drop ROCKETMART_PAYMENT_DECLINE_PERCENT=20 "${REDIS_ENV[@]}"
  load_run redis-drop 600 --scenario drop --members "$DROP_MEMBERS" --attempts "$DROP_ATTEMPTS" \
    --stock "$DROP_STOCK" --leave 0.2 --seed 1 --connections "$CONNECTIONS" --duration 300
  stop_pid "$SERVER_PID"

  # The yardstick: redis-benchmark running, on the same server, a script doing what our Admit
  # does for one line (src/services/checkout/adapters/redis/redis_admission.cpp): read the epoch
  # and the product's hash, compare the member's units with the limit and the stock with the
  # quantity, then decrement the stock, bump the generation and record the member's units. Ours
  # also adds the Idempotency-Key to a set, reads TIME and writes its in-flight count. The stock is
  # large enough never to run out; the member is random among 100,000.
  cat >"$WORK/admit.lua" <<'EOF'
local ep = redis.call('GET', KEYS[1])
if not ep then return -1 end
local v = redis.call('HMGET', KEYS[2], 'a', 'e')
if v[2] ~= ep then return -1 end
local q = tonumber(ARGV[2])
local owned = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if owned + q > tonumber(ARGV[3]) then return 1 end
if tonumber(v[1]) < q then return 2 end
redis.call('HINCRBY', KEYS[2], 'a', -q)
redis.call('HINCRBY', KEYS[2], 'g', 1)
redis.call('HINCRBY', KEYS[3], ARGV[1], q)
return 0
EOF
  local_redis_cli SET yardstick:epoch e1 >/dev/null
  local_redis_cli HSET yardstick:p a 1000000000000 g 1 e e1 >/dev/null
  ADMIT_SHA="$(local_redis_cli SCRIPT LOAD "$(cat "$WORK/admit.lua")")"
  echo "sample admit: $(local_redis_cli EVALSHA "$ADMIT_SHA" 3 yardstick:epoch yardstick:p yardstick:m 7 1 1000000000) (0 = admitted)"
  redis_bench_run() {  # redis_bench_run NAME PIPELINE -> $WORK/NAME.ops
    echo "--- redis-benchmark -c $CONNECTIONS -n $REDIS_BENCH_REQUESTS -P $2 -r 100000 EVALSHA admit.lua 3 ... __rand_int__ 1 1e9"
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$LOCAL_REDIS_PORT" -c "$CONNECTIONS" \
      -n "$REDIS_BENCH_REQUESTS" -P "$2" -r 100000 --csv \
      EVALSHA "$ADMIT_SHA" 3 yardstick:epoch yardstick:p yardstick:m __rand_int__ 1 1000000000 |
      tee "$WORK/$1.csv"
    python3 -c 'import csv,sys
rows=[r for r in csv.reader(open(sys.argv[1])) if len(r) > 1 and r[0] != "test"]
print("%d" % float(rows[-1][1]) if rows else "n/a")' "$WORK/$1.csv" >"$WORK/$1.ops"
  }
  redis_bench_run evalsha-p1 1
  redis_bench_run evalsha-p16 16
  echo "yardstick hash after the runs: $(local_redis_cli HMGET yardstick:p a g | tr '\n' ' ')"

  # Event delivery through Redis Streams: outbox commit -> the consumer's effect committed.
  echo "--- events_bench --rate $EVENTS_RATE --events $EVENTS_COUNT"
  rc=0
  timeout 600 "$EVENTS_BENCH" --redis-url "$LOCAL_REDIS_URL" --rate "$EVENTS_RATE" \
    --events "$EVENTS_COUNT" --dir "$WORK/events" | tee "$WORK/events.load" || rc=$?
  sed -n 's/^RESULT //p' "$WORK/events.load" >"$WORK/events.json"
  [ "$rc" -eq 0 ] || echo "!!! events_bench exited $rc (an event lost or applied twice, or timeout)"
fi

# 8. The local cluster (scripts/cluster.sh, docs/cluster.md): every service in a process of its
#    own on PostgreSQL, events on Redis Streams, admission in Redis, discovery in etcd; section 4's
#    drop and section 3's sold-out answers through its (first) gateway, read beside the embedded
#    drop and nginx of this sitting.
if [ "$BENCH_CLUSTER" = 1 ]; then
  CLUSTER_WORK="$(mktemp -d /tmp/rocketmart-bench-cluster.XXXXXX)"
  chmod 0755 "$CLUSTER_WORK"  # PostgreSQL runs as its own user below it (secrets/ stays 0700)
  echo "=== local cluster: CLUSTER_N=$CLUSTER_N instance(s) of each service," \
    "CLUSTER_GATEWAYS=$CLUSTER_GATEWAYS gateway(s), in $CLUSTER_WORK"
  # Every process inherits these: the gateways' rate limits off for the load (one address, few
  # tokens, as start_server does), section 4's declined payments, quiet logs.
  if timeout 300 env CLUSTER_N="$CLUSTER_N" CLUSTER_GATEWAYS="$CLUSTER_GATEWAYS" \
    ROCKETMART_BIN="$(realpath "$BIN")" ROCKETMART_LOG_ACCESS_LOG=false ROCKETMART_LOG_LEVEL=warn \
    ROCKETMART_GATEWAY_RATE_PER_MEMBER_PER_S=0 ROCKETMART_GATEWAY_RATE_PER_IP_PER_S=0 \
    ROCKETMART_PAYMENT_DECLINE_PERCENT=20 bash "$CLUSTER_SH" up "$CLUSTER_WORK"; then
    echo "processes: $(awk '{printf "%s ", $1}' "$CLUSTER_WORK/pids")"
    # The tools get the cluster's variables (its keys, and its databases where the load's
    # read-back looks), the members instance's data directory and the first gateway's port.
    mapfile -t SERVER_ENV < <(sed -n 's/^export //p' "$CLUSTER_WORK/cluster.env")
    DATA="$CLUSTER_WORK/members-0"
    GATEWAY_URL="$(cat "$CLUSTER_WORK/gateway.url")"
    PORT="${GATEWAY_URL##*:}"
    load_run cluster-drop 600 --scenario drop --members "$DROP_MEMBERS" --attempts "$DROP_ATTEMPTS" \
      --stock "$DROP_STOCK" --leave 0.2 --seed 1 --connections "$CONNECTIONS" --duration 300
    soldout_setup cluster-soldout
    wrk_run cluster-soldout "http://127.0.0.1:$PORT/payment/request" "$WORK/cluster-soldout.lua"
    load_run cluster-soldout-load 120 --scenario soldout --members 1000 --attempts 2000000 \
      --duration "$WRK_SECONDS" --connections "$CONNECTIONS"
  else
    echo "!!! the cluster did not start; its logs:"
    tail -n 5 "$CLUSTER_WORK"/*.log || true
  fi
  bash "$CLUSTER_SH" down "$CLUSTER_WORK" >/dev/null
  rm -rf "$CLUSTER_WORK"
  CLUSTER_WORK=""
fi

# Summary
val() { cat "$WORK/$1" 2>/dev/null || echo n/a; }  # val FILE: a figure, n/a when its section did not run
of() {  # of A B: A / B, two decimals
  python3 -c 'import sys
try: print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))
except Exception: print("n/a")' "$1" "$2"
}
num() {  # num VALUE [DECIMALS]
  python3 -c 'import sys
try: print("%.*f" % (int(sys.argv[2]), float(sys.argv[1])))
except Exception: print("n/a")' "$1" "${2:-0}"
}
N="$(val nginx.rps)"
ratio() { of "$1" "$N"; }
row() {  # row WHAT VALUE RATIO P99: one line of the first table, left out when it did not run
  [ "$2" = n/a ] || printf '%-44s %12s %10s %12s\n' "$1" "$2" "$3" "$4"
}
H="$(val health.rps)"; P="$(val product.rps)"; S="$(val soldout.rps)"
SL="$(num "$(json soldout-load rps)")"
DT="$(num "$(json drop tps)")"; DR="$(num "$(json drop rps)")"; D99="$(json drop att_p99_ms)"
OT="$(num "$(json orders tps)")"; O99="$(json orders att_p99_ms)"
OWT="$(num "$(json orders-wide tps)")"; OW99="$(json orders-wide att_p99_ms)"
echo
echo "================ summary (wrk ${WRK_ARGS[*]}; rocketmart-load -c $CONNECTIONS, 1 thread) ================"
printf '%-44s %12s %10s %12s\n' "what" "per second" "x nginx" "p99"
row "nginx return 200 \"ok\"" "$N" "1.00" "$(val nginx.p99)"
row "rocketmart GET /health" "$H" "$(ratio "$H")" "$(val health.p99)"
row "rocketmart GET /products/1" "$P" "$(ratio "$P")" "$(val product.p99)"
row "sold-out POST /payment/request (wrk)" "$S" "$(ratio "$S")" "$(val soldout.p99)"
row "sold-out (rocketmart-load)" "$SL" "$(ratio "$SL")" "$(json soldout-load req_p99_ms)ms"
row "drop: attempts/s (TPS)" "$DT" "$(ratio "$DT")" "${D99}ms"
row "drop: requests/s" "$DR" "$(ratio "$DR")" "$(json drop req_p99_ms)ms"
row "durable orders/s (synchronous=FULL)" "$OT" "$(ratio "$OT")" "${O99}ms"
row "durable orders/s, $ORDERS_WIDE_CONNECTIONS connections" "$OWT" "$(ratio "$OWT")" "${OW99}ms"
if want 4; then
  echo "drop: paid=$(json drop paid) sold=$(json drop sold) oversold=$(json drop oversold) orders=$(json drop orders) checks_ok=$(json drop checks_ok)"
fi
if want 5; then
  echo "orders: paid=$(json orders paid) orders=$(json orders orders) checks_ok=$(json orders checks_ok)"
  echo "orders-wide: paid=$(json orders-wide paid) orders=$(json orders-wide orders) checks_ok=$(json orders-wide checks_ok)"
fi
if want 2 3; then echo "soldout: checks_ok=$(json soldout-load checks_ok)"; fi
if [ "$BENCH_POSTGRES" = 1 ]; then
  PB="$(val pgbench.tps)"; PBW="$(val pgbench-wide.tps)"
  PO="$(num "$(json pg-orders tps)")"; POW="$(num "$(json pg-orders-wide tps)")"
  PD="$(num "$(json pg-drop tps)")"
  echo
  echo "================ PostgreSQL sitting (same machine, same run) ================"
  printf '%-50s %12s %20s %10s\n' "what" "per second" "ratio" "p99"
  printf '%-50s %12s %20s %10s\n' "pgbench one-row UPDATE, $CONNECTIONS connections" "$PB" "yardstick" "-"
  printf '%-50s %12s %20s %10s\n' "pgbench one-row UPDATE, $ORDERS_WIDE_CONNECTIONS connections" "$PBW" "yardstick" "-"
  printf '%-50s %12s %20s %10s\n' "durable orders/s on PG, $CONNECTIONS connections" "$PO" "$(of "$PO" "$PB") x pgbench" "$(json pg-orders att_p99_ms)ms"
  printf '%-50s %12s %20s %10s\n' "durable orders/s on PG, $ORDERS_WIDE_CONNECTIONS connections" "$POW" "$(of "$POW" "$PBW") x pgbench" "$(json pg-orders-wide att_p99_ms)ms"
  printf '%-50s %12s %20s %10s\n' "durable orders/s on SQLite FULL (above)" "$OT" "$(of "$PO" "$OT") PG/SQLite" "${O99}ms"
  printf '%-50s %12s %20s %10s\n' "drop on PG: attempts/s (TPS)" "$PD" "$(of "$PD" "$DT") x embedded" "$(json pg-drop att_p99_ms)ms"
  echo "pg-drop: paid=$(json pg-drop paid) sold=$(json pg-drop sold) oversold=$(json pg-drop oversold) orders=$(json pg-drop orders) captures=$(json pg-drop captures) checks_ok=$(json pg-drop checks_ok)"
  echo "pg-orders: paid=$(json pg-orders paid) orders=$(json pg-orders orders) checks_ok=$(json pg-orders checks_ok); pg-orders-wide: checks_ok=$(json pg-orders-wide checks_ok)"
  echo "targets (PostgreSQL): durable paid orders >= 10000/s; the drop >= 0.8x the embedded figure"
fi
if [ "$BENCH_REDIS" = 1 ]; then
  RS="$(val redis-soldout.rps)"; RSL="$(num "$(json redis-soldout-load rps)")"
  RD="$(num "$(json redis-drop tps)")"; PD="$(json pg-drop tps)"
  E1="$(val evalsha-p1.ops)"; E16="$(val evalsha-p16.ops)"
  echo
  echo "================ Redis sitting (PostgreSQL + Redis admission + Redis Streams, same run) ================"
  printf '%-50s %12s %24s %10s\n' "what" "per second" "ratio" "p99"
  printf '%-50s %12s %24s %10s\n' "redis-benchmark EVALSHA admit, -c $CONNECTIONS -P 1" "$E1" "yardstick" "-"
  printf '%-50s %12s %24s %10s\n' "redis-benchmark EVALSHA admit, -c $CONNECTIONS -P 16" "$E16" "yardstick" "-"
  printf '%-50s %12s %24s %10s\n' "sold-out via Redis (wrk)" "$RS" "$(of "$RS" "$S") x in-process" "$(cat "$WORK/redis-soldout.p99")"
  printf '%-50s %12s %24s %10s\n' "sold-out via Redis (rocketmart-load)" "$RSL" "$(of "$RSL" "$SL") x in-process" "$(json redis-soldout-load req_p99_ms)ms"
  printf '%-50s %12s %24s %10s\n' "  the same against the yardstick" "" "$(of "$RSL" "$E1") x -P1, $(of "$RSL" "$E16") x -P16" ""
  printf '%-50s %12s %24s %10s\n' "drop with Redis admission: attempts/s (TPS)" "$RD" "$(of "$RD" "$DT") x embedded" "$(json redis-drop att_p99_ms)ms"
  printf '%-50s %12s %24s %10s\n' "  the same against the drop on PG (section 6)" "" "$(of "$RD" "$PD") x PG" ""
  printf '%-50s %12s %24s %10s\n' "events via Redis Streams, delivered/s" "$(num "$(json events events_per_s)")" "target $EVENTS_RATE/s" "$(num "$(json events lat_p99_ms)" 2)ms"
  echo "event delivery commit -> effect (ms): p50=$(num "$(json events lat_p50_ms)" 2) p90=$(num "$(json events lat_p90_ms)" 2) p99=$(num "$(json events lat_p99_ms)" 2) max=$(num "$(json events lat_max_ms)" 2); events=$(json events events) applied=$(json events rows) distinct=$(json events distinct) lost=$(json events lost) redelivered=$(json events redelivered) checks_ok=$(json events checks_ok)"
  echo "redis-drop: paid=$(json redis-drop paid) sold=$(json redis-drop sold) oversold=$(json redis-drop oversold) orders=$(json redis-drop orders) captures=$(json redis-drop captures) checks_ok=$(json redis-drop checks_ok); redis-soldout: checks_ok=$(json redis-soldout-load checks_ok)"
  echo "targets (Redis): the drop with Redis admission >= 0.7x the embedded figure; event delivery p99 <= 50 ms at 10000 events/s"
fi
if [ "$BENCH_CLUSTER" = 1 ]; then
  CD="$(num "$(json cluster-drop tps)")"; CR="$(num "$(json cluster-drop rps)")"
  CS="$(val cluster-soldout.rps)"; CSL="$(num "$(json cluster-soldout-load rps)")"
  echo
  echo "================ cluster sitting (scripts/cluster.sh, CLUSTER_N=$CLUSTER_N, CLUSTER_GATEWAYS=$CLUSTER_GATEWAYS; through the gateway, same run) ================"
  printf '%-50s %12s %20s %10s\n' "what" "per second" "ratio" "p99"
  printf '%-50s %12s %20s %10s\n' "embedded drop (section 4): attempts/s (TPS)" "$DT" "yardstick" "${D99}ms"
  printf '%-50s %12s %20s %10s\n' "drop via the gateway: attempts/s (TPS)" "$CD" "$(of "$CD" "$DT") x embedded" "$(json cluster-drop att_p99_ms)ms"
  printf '%-50s %12s %20s %10s\n' "drop via the gateway: requests/s" "$CR" "$(of "$CR" "$DR") x embedded" "$(json cluster-drop req_p99_ms)ms"
  printf '%-50s %12s %20s %10s\n' "nginx return 200 \"ok\" (section 1)" "$N" "yardstick" "$(val nginx.p99)"
  printf '%-50s %12s %20s %10s\n' "sold-out via the gateway (wrk)" "$CS" "$(of "$CS" "$N") x nginx" "$(val cluster-soldout.p99)"
  printf '%-50s %12s %20s %10s\n' "sold-out via the gateway (rocketmart-load)" "$CSL" "$(of "$CSL" "$N") x nginx" "$(json cluster-soldout-load req_p99_ms)ms"
  cd_count() { echo "$1=$(json cluster-drop "$2")"; }
  echo "cluster-drop: $(cd_count attempts attempts) $(cd_count paid paid) $(cd_count sold sold)" \
    "$(cd_count oversold oversold) $(cd_count over-limit limit) $(cd_count declined declined)" \
    "$(cd_count left left) $(cd_count other-4xx other_4xx) $(cd_count 5xx server_errors)" \
    "$(cd_count transport-errors transport_errors) $(cd_count orders orders)" \
    "$(cd_count payments payments) $(cd_count captures captures) $(cd_count checks_ok checks_ok)"
  echo "embedded drop, same sitting: attempts=$(json drop attempts) paid=$(json drop paid) oversold=$(json drop oversold) over-limit=$(json drop limit) 5xx=$(json drop server_errors) checks_ok=$(json drop checks_ok)"
  echo "cluster sold-out: answers=$(json cluster-soldout-load attempts) sold_out=$(json cluster-soldout-load sold_out) 5xx=$(json cluster-soldout-load server_errors) checks_ok=$(json cluster-soldout-load checks_ok)"
  echo "targets (cluster, printed, not asserted): the drop via the gateway >= 0.4x the embedded figure; the gateway's sold-out path >= 0.3x nginx"
fi
echo "targets: GET /products/{id} >= 0.6x nginx; sold-out >= 0.5x nginx; drop >= 50000 attempts/s with p99 <= 20 ms; durable orders >= 10000/s"
