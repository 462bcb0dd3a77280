# shellcheck shell=bash
# A redis-server of the caller's own, for the benchmark (and anything else that needs a server
# outside a test binary; the tests use tests/support/local_redis.*, the same recipe): Debian's
# redis-server in a fresh directory (its AOF, its unix socket, its log), on a free 127.0.0.1 port,
# appendonly yes + appendfsync everysec (the setting docs/redis.md recommends), no RDB snapshots,
# maxmemory-policy noeviction (rocketmart refuses any other). Never the machine's own service.
# Source it, then:
#   local_redis_start DIR [--name value...]  -> sets LOCAL_REDIS_PORT, LOCAL_REDIS_URL, LOCAL_REDIS_PID
#   local_redis_cli ARGS...                  redis-cli against it (needs redis-tools)
#   local_redis_stop                         (SIGTERM, the AOF flushed; the caller removes DIR)
# The caller's EXIT trap should call local_redis_stop.
LOCAL_REDIS_PID=""

local_redis_start() {
  LOCAL_REDIS_DIR="$1"; shift
  command -v redis-server >/dev/null || { echo "local_redis: redis-server missing (redis-server)" >&2; return 2; }
  mkdir -p "$LOCAL_REDIS_DIR"
  for _ in 1 2 3; do
    LOCAL_REDIS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    redis-server --port "$LOCAL_REDIS_PORT" --bind 127.0.0.1 \
      --unixsocket "$LOCAL_REDIS_DIR/redis.sock" --unixsocketperm 700 \
      --dir "$LOCAL_REDIS_DIR" --logfile "$LOCAL_REDIS_DIR/redis.log" --daemonize no \
      --save '' --appendonly yes --appendfsync everysec --maxmemory-policy noeviction "$@" \
      </dev/null >/dev/null 2>&1 &
    LOCAL_REDIS_PID=$!
    for _ in $(seq 1 100); do
      kill -0 "$LOCAL_REDIS_PID" 2>/dev/null || break
      if [ "$(_local_redis_ping)" = PONG ]; then
        # shellcheck disable=SC2034  # read by the caller
        LOCAL_REDIS_URL="redis://127.0.0.1:$LOCAL_REDIS_PORT"
        return 0
      fi
      sleep 0.05
    done
    # Not answering: a port taken meanwhile (it exited), or stuck: stop it and try another port.
    local_redis_stop
  done
  tail -20 "$LOCAL_REDIS_DIR/redis.log" >&2 2>/dev/null || true
  return 1
}

# PING over the unix socket: redis-cli when installed, else python3 (no client library needed).
_local_redis_ping() {
  if command -v redis-cli >/dev/null; then
    redis-cli -s "$LOCAL_REDIS_DIR/redis.sock" PING 2>/dev/null
  else
    python3 - "$LOCAL_REDIS_DIR/redis.sock" 2>/dev/null <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(0.5); s.connect(sys.argv[1])
s.sendall(b"PING\r\n"); print(s.recv(64).decode().strip().lstrip("+"))
EOF
  fi
}

local_redis_cli() {
  redis-cli -s "$LOCAL_REDIS_DIR/redis.sock" "$@"
}

local_redis_stop() {
  [ -n "$LOCAL_REDIS_PID" ] || return 0
  kill "$LOCAL_REDIS_PID" 2>/dev/null || true
  timeout 15 tail --pid="$LOCAL_REDIS_PID" -f /dev/null 2>/dev/null || kill -9 "$LOCAL_REDIS_PID" 2>/dev/null || true
  wait "$LOCAL_REDIS_PID" 2>/dev/null || true
  LOCAL_REDIS_PID=""
}
