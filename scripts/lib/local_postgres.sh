# A PostgreSQL 15 of the caller's own, for the benchmark (and anything else that needs a server
# outside a test binary; the tests use tests/support/local_postgres.*, the same recipe): initdb into
# a fresh directory, started with pg_ctl on a free 127.0.0.1 port and a socket in that directory,
# fsync and synchronous_commit on. Never the machine's own cluster or service. initdb and postgres
# refuse to run as root, so as root they run as the `postgres` user the Debian package creates.
# Source it, then:
#   local_pg_start DIR [SETTING=VALUE...]  -> sets LOCAL_PG_PORT, LOCAL_PG_DIR
#   local_pg_create_db NAME                -> prints postgresql://rocketmart@127.0.0.1:PORT/NAME
#   local_pg_stop                          (fast shutdown; the caller removes DIR)
LOCAL_PG_BIN=/usr/lib/postgresql/15/bin

_local_pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

local_pg_start() {
  LOCAL_PG_DIR="$1"; shift
  [ -x "$LOCAL_PG_BIN/initdb" ] || { echo "local_pg: $LOCAL_PG_BIN/initdb missing (postgresql-15)" >&2; return 2; }
  mkdir -p "$LOCAL_PG_DIR"
  chmod 0755 "$LOCAL_PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$LOCAL_PG_DIR"
  _local_pg_as_owner "$LOCAL_PG_BIN/initdb" -D "$LOCAL_PG_DIR/data" -A trust -U rocketmart \
    --no-sync >"$LOCAL_PG_DIR/initdb.log" 2>&1 || { cat "$LOCAL_PG_DIR/initdb.log" >&2; return 1; }
  local opts="-c listen_addresses=127.0.0.1 -k $LOCAL_PG_DIR -c fsync=on -c synchronous_commit=on"
  for setting in "$@"; do opts="$opts -c $setting"; done
  for _ in 1 2 3; do
    LOCAL_PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    if _local_pg_as_owner "$LOCAL_PG_BIN/pg_ctl" -D "$LOCAL_PG_DIR/data" -l "$LOCAL_PG_DIR/server.log" \
        -w -t 30 -o "-p $LOCAL_PG_PORT $opts" start >/dev/null; then
      return 0
    fi
  done
  tail -20 "$LOCAL_PG_DIR/server.log" >&2
  return 1
}

local_pg_create_db() {
  psql -X -q -h 127.0.0.1 -p "$LOCAL_PG_PORT" -U rocketmart -d postgres \
    -c "CREATE DATABASE \"$1\"" >/dev/null
  echo "postgresql://rocketmart@127.0.0.1:$LOCAL_PG_PORT/$1"
}

local_pg_stop() {
  [ -n "${LOCAL_PG_DIR:-}" ] && [ -f "$LOCAL_PG_DIR/data/postmaster.pid" ] || return 0
  _local_pg_as_owner "$LOCAL_PG_BIN/pg_ctl" -D "$LOCAL_PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}
