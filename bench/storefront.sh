#!/usr/bin/env bash
# Storefront benchmarks (docs/storefront.md, issue 16), each on a fresh server:
#   1. static assets: rocketmart and nginx (Debian's nginx-light, gzip_static) serving the same
#      built files (build/web) under the same wrk settings as bench/run.sh, gzip accepted: the
#      drop page's entry bundle and index.html; the ratio to nginx.
#   2. the drop page's first load on loopback to a usable buy button (chromium, cold profile, then
#      warm cache).
#   3. SSE fan-out: SSE_STREAMS open stock streams (5,000) while a buyer purchases SSE_RATE times
#      a second: time from a purchase to every stream seeing the new stock (target p99 <= 200 ms).
# Every process and temp dir is removed on exit; every step is bounded in time.
# Usage: bash bench/storefront.sh [build-dir]   (make bench runs it after bench/run.sh)
set -euo pipefail

BUILD_DIR="$(cd "${1:-build}" && pwd)"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$BUILD_DIR/rocketmart"
WEB="$BUILD_DIR/web"
WRK_ARGS=(-t1 -c64 -d10s --latency)
SSE_STREAMS="${SSE_STREAMS:-5000}"
SSE_PURCHASES="${SSE_PURCHASES:-100}"
SSE_RATE="${SSE_RATE:-10}"
SSE_CLIENTS="${SSE_CLIENTS:-2}"
LOAD_RUNS="${LOAD_RUNS:-10}"

[ -x "$BIN" ] || { echo "bench: $BIN not built" >&2; exit 2; }
[ -f "$WEB/index.html" ] || { echo "bench: $WEB not built (make build)" >&2; exit 2; }
for tool in nginx wrk node npm python3 timeout; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (make setup)" >&2; exit 2; }
done
if [ ! -d "$SRC/tests/browser/node_modules/playwright-core" ]; then
  (cd "$SRC/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi

WORK="$(mktemp -d /tmp/rocketmart-bench-web.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wrk_run() {  # wrk_run NAME URL -> $WORK/NAME.rps
  local name="$1" url="$2"
  echo "--- wrk ${WRK_ARGS[*]} -H 'Accept-Encoding: gzip' $url ($name)"
  timeout 40 wrk "${WRK_ARGS[@]}" -H 'Accept-Encoding: gzip' "$url" | tee "$WORK/$name.wrk"
  awk '/^Requests\/sec:/ {printf "%d", $2}' "$WORK/$name.wrk" >"$WORK/$name.rps"
  awk '$1=="99%" {print $2}' "$WORK/$name.wrk" >"$WORK/$name.p99"
}

# start_server NAME [ENV=VALUE...] -> PORT, DATA
start_server() {
  local name="$1"; shift
  DATA="$WORK/$name-data"
  mkdir -p "$DATA"
  env ROCKETMART_LOG_ACCESS_LOG=false ROCKETMART_LOG_LEVEL=warn ROCKETMART_STOREFRONT_ASSETS_DIR="$WEB" \
    ROCKETMART_SERVER_ADMIN_PORT=0 ROCKETMART_GATEWAY_RATE_PER_MEMBER_PER_S=0 \
    ROCKETMART_GATEWAY_RATE_PER_IP_PER_S=0 "$@" \
    "$BIN" serve --port 0 --host 127.0.0.1 --data-dir "$DATA" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=("$!")
  PORT=""
  for _ in $(seq 1 150); do
    PORT="$(sed -n 's#^rocketmart listening on http://[^:]*:\([0-9]*\).*#\1#p' "$WORK/$name.out")"
    ADMIN_PORT="$(sed -n 's#^rocketmart metrics on http://[^:]*:\([0-9]*\).*#\1#p' "$WORK/$name.out")"
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "bench: $name did not start" >&2; cat "$WORK/$name.err" >&2; exit 1; }
  echo "=== rocketmart ($name) on 127.0.0.1:$PORT"
}


echo "machine: $(nproc) cores, $(uname -srm), $(date -u +%FT%TZ)"
# The largest file the drop page loads (the entry or the chunk it imports first).
JS="$(cd "$WEB/assets" && ls -S *.js | head -1)"

# 1. Static assets.
NGX="$WORK/nginx"
mkdir -p "$NGX/logs"
NGX_PORT="$(free_port)"
cat >"$NGX/nginx.conf" <<EOF2
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
  include /etc/nginx/mime.types;
  server {
    listen 127.0.0.1:$NGX_PORT;
    root $WEB;
    gzip_static on;
    location /assets/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
    location = /index.html { add_header Cache-Control "no-cache"; }
  }
}
EOF2
nginx -c "$NGX/nginx.conf" -p "$NGX" &
PIDS+=("$!")
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$NGX_PORT/index.html" >/dev/null && break; sleep 0.1; done
wrk_run nginx-js "http://127.0.0.1:$NGX_PORT/assets/$JS"
wrk_run nginx-index "http://127.0.0.1:$NGX_PORT/index.html"
start_server static
wrk_run rm-js "http://127.0.0.1:$PORT/assets/$JS"
wrk_run rm-index "http://127.0.0.1:$PORT/drop/1"
curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w "rocketmart $JS: %{size_download} bytes (gzip)\n" "http://127.0.0.1:$PORT/assets/$JS"
curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w "nginx      $JS: %{size_download} bytes (gzip)\n" "http://127.0.0.1:$NGX_PORT/assets/$JS"

# 2 and 3 on a server with a verified admin (the buyer) and a drop with plenty of stock.
mkdir -p "$WORK/drop-data"
printf 'bench operator password\n' >"$WORK/pw"
"$BIN" admin create --email bench@example.com --password-file "$WORK/pw" --data-dir "$WORK/drop-data" >/dev/null
start_server drop ROCKETMART_DEMO_SEED=false
LOGIN="$(curl -fs -X POST "http://127.0.0.1:$PORT/auth/login" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"bench operator password"}')"
TOKEN="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["accessToken"])' "$LOGIN")"
PRODUCT="$(curl -fs -X POST "http://127.0.0.1:$PORT/products" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"Bench Drop","price":1000,"stock":1000000}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
NOW="$(date -u -d '-1 min' +%FT%TZ)"; END="$(date -u -d '+1 hour' +%FT%TZ)"
curl -fs -X PUT "http://127.0.0.1:$PORT/payment/$PRODUCT/sale" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"startsAt\":\"$NOW\",\"endsAt\":\"$END\",\"perMemberLimit\":10000}" >/dev/null
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$PORT/payment/$PRODUCT/sale" | grep -q '"state":"live"' && break; sleep 0.1
done
SESSION="$(python3 - "$LOGIN" <<'PY'
import json, sys, time, base64
t = json.loads(sys.argv[1])
claims = json.loads(base64.urlsafe_b64decode(t["accessToken"].split(".")[1] + "=="))
print(json.dumps({"accessToken": t["accessToken"], "refreshToken": t["refreshToken"],
                  "expiresAt": int(time.time() * 1000) + t["expiresIn"] * 1000,
                  "memberId": int(claims["sub"]), "role": claims.get("role", "user"),
                  "emailVerified": claims.get("email_verified", False)}))
PY
)"
echo "--- first load of /drop/$PRODUCT ($LOAD_RUNS fresh profiles)"
(cd "$SRC" && timeout 300 node bench/storefront/first_load.mjs "http://127.0.0.1:$PORT" "$PRODUCT" "$SESSION" "$LOAD_RUNS") |
  tee "$WORK/first-load.out"
echo "--- SSE fan-out: $SSE_STREAMS streams, $SSE_PURCHASES purchases at $SSE_RATE/s"
(cd "$SRC" && timeout 300 node bench/storefront/sse_fanout.mjs "http://127.0.0.1:$PORT" "$PRODUCT" "$TOKEN" \
  "$SSE_STREAMS" "$SSE_PURCHASES" "$SSE_RATE" "$SSE_CLIENTS") | tee "$WORK/fanout.out"

# The server's own share of the fan-out: snapshot -> event written, from its histogram.
curl -fs "http://127.0.0.1:$ADMIN_PORT/metrics" | python3 -c '
import sys, re
buckets = []
for line in sys.stdin:
    m = re.match(r"storefront_stream_delay_seconds_bucket\{le=\"([^\"]+)\"\} (\d+)", line)
    if m: buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), int(m.group(2))))
total = buckets[-1][1] if buckets else 0
def q(p):
    for le, n in buckets:
        if n >= p * total: return "<= %g ms" % (le * 1000)
print("server side (snapshot -> written), %d writes: p50 %s, p99 %s" % (total, q(0.5), q(0.99)))
' | tee "$WORK/server-side.out"

ratio() { python3 -c 'import sys; a,b=int(sys.argv[1] or 0),int(sys.argv[2] or 0); print(f"{a/b:.2f}x" if b else "n/a")' "$1" "$2"; }
echo "================ storefront summary (wrk ${WRK_ARGS[*]}, gzip) ================"
printf '%-40s %12s %12s %8s\n' "static file" "rocketmart/s" "nginx/s" "ratio"
printf '%-40s %12s %12s %8s\n' "assets/$JS" "$(cat "$WORK/rm-js.rps")" "$(cat "$WORK/nginx-js.rps")" \
  "$(ratio "$(cat "$WORK/rm-js.rps")" "$(cat "$WORK/nginx-js.rps")")"
printf '%-40s %12s %12s %8s\n' "index.html (/drop/1 vs /index.html)" "$(cat "$WORK/rm-index.rps")" \
  "$(cat "$WORK/nginx-index.rps")" "$(ratio "$(cat "$WORK/rm-index.rps")" "$(cat "$WORK/nginx-index.rps")")"
sed -n 's/^drop page/first load: drop page/p' "$WORK/first-load.out"
sed -n 's/^stock change/SSE fan-out: stock change/p' "$WORK/fanout.out"
sed -n 's/^server side/SSE fan-out: server side/p' "$WORK/server-side.out"
