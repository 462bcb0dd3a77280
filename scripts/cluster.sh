#!/usr/bin/env bash
# A local cluster in one command (issue 15, docs/cluster.md): etcd, PostgreSQL (one database per
# service) and Redis, then N instances of every service and G gateways, all on 127.0.0.1 with
# every port picked free, their data, logs and secrets under one folder.
#
#   scripts/cluster.sh up   [DIR]   start it; prints the gateway URL(s)        (make cluster)
#   scripts/cluster.sh down [DIR]   stop everything it started, in reverse     (make cluster-down)
#
# DIR defaults to ./cluster. Environment: CLUSTER_N (instances per service, 2), CLUSTER_GATEWAYS
# (1), ROCKETMART_BIN (build/rocketmart). The processes run in the background after `up` returns;
# each one's pid is in DIR/pids (name pid), its output in DIR/<name>.log. DIR/cluster.env holds the
# variables every process got: source it to run `rocketmart admin create --data-dir
# DIR/members-0` and the other tools against the cluster. The commands below are the ones a real
# deployment runs (docs/cluster.md); only the addresses differ.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/local_postgres.sh
. scripts/lib/local_postgres.sh

ACTION="${1:-}"
DIR="$(realpath -m "${2:-./cluster}")"
N="${CLUSTER_N:-2}"
GATEWAYS="${CLUSTER_GATEWAYS:-1}"
BIN="$(realpath -m "${ROCKETMART_BIN:-build/rocketmart}")"
SERVICES=(members catalog checkout orders)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
secret() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }

# wait_for CMD... : retries CMD for up to 20 s.
wait_for() {
  for _ in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# start NAME CMD...: in the background, in its own session, output to DIR/NAME.log.
start() {
  local name="$1"; shift
  setsid nohup "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$DIR/pids"
}

# rocketmart NAME SERVICE: one instance; prints its URL once it listens.
rocketmart() {
  local name="$1" service="$2"
  start "$name" "$BIN" serve --service "$service" --port 0 --host 127.0.0.1 \
    --data-dir "$DIR/$name"
  for _ in $(seq 1 300); do
    if grep -q "rocketmart listening on" "$DIR/$name.log" 2>/dev/null; then
      grep -o "listening on http://[0-9.:]*" "$DIR/$name.log" | head -1 | sed 's/listening on //'
      return 0
    fi
    if grep -q "cannot start" "$DIR/$name.log" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "cluster: $name did not start:" >&2
  tail -5 "$DIR/$name.log" >&2
  return 1
}

up() {
  [ -x "$BIN" ] || { echo "cluster: $BIN missing (make build)" >&2; exit 2; }
  if [ -s "$DIR/pids" ]; then
    echo "cluster: $DIR already has a cluster (scripts/cluster.sh down $DIR first)" >&2; exit 2
  fi
  mkdir -p "$DIR/secrets"
  chmod 0700 "$DIR/secrets"
  : >"$DIR/pids"

  local etcd_port peer_port redis_port
  etcd_port="$(free_port)"; peer_port="$(free_port)"
  start etcd etcd --name cluster --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "cluster=http://127.0.0.1:$peer_port"
  wait_for curl -fs "http://127.0.0.1:$etcd_port/health" || { tail "$DIR/etcd.log" >&2; exit 1; }

  redis_port="$(free_port)"
  mkdir -p "$DIR/redis"
  start redis redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$DIR/redis" \
    --appendonly yes --appendfsync everysec --save ""
  wait_for redis-cli -p "$redis_port" ping || { tail "$DIR/redis.log" >&2; exit 1; }

  local_pg_start "$DIR/postgres"
  echo "postgres $LOCAL_PG_PORT" >"$DIR/postgres.port"

  for f in jwt internal members; do
    [ -s "$DIR/secrets/$f.key" ] || secret >"$DIR/secrets/$f.key"
  done
  chmod 0600 "$DIR/secrets/"*.key
  {
    echo "export ROCKETMART_AUTH_SECRET_FILE=$DIR/secrets/jwt.key"
    echo "export ROCKETMART_AUTH_INTERNAL_SECRET_FILE=$DIR/secrets/internal.key"
    echo "export ROCKETMART_MEMBERS_DATA_KEY_FILE=$DIR/secrets/members.key"
    echo "export ROCKETMART_REDIS_URL=redis://127.0.0.1:$redis_port"
    echo "export ROCKETMART_DISCOVERY_ETCD_URL=http://127.0.0.1:$etcd_port"
    echo "export ROCKETMART_SERVER_TRUSTED_PROXIES=127.0.0.1/32"
    echo "export ROCKETMART_SERVER_ADMIN_PORT=0"
    echo "export ROCKETMART_DEMO_SEED=false"
    for s in "${SERVICES[@]}"; do
      echo "export ROCKETMART_${s^^}_DATABASE_URL=$(local_pg_create_db "$s")"
    done
  } >"$DIR/cluster.env"
  # shellcheck disable=SC1091
  . "$DIR/cluster.env"

  local gateway_urls=()
  for g in $(seq 0 $((GATEWAYS - 1))); do gateway_urls+=("$(rocketmart "gateway-$g" gateway)"); done
  echo "export ROCKETMART_MEMBERS_PUBLIC_BASE_URL=${gateway_urls[0]}" >>"$DIR/cluster.env"
  export ROCKETMART_MEMBERS_PUBLIC_BASE_URL="${gateway_urls[0]}"
  for s in "${SERVICES[@]}"; do
    for i in $(seq 0 $((N - 1))); do rocketmart "$s-$i" "$s" >/dev/null; done
  done
  echo "${gateway_urls[0]}" >"$DIR/gateway.url"
  echo "rocketmart cluster up in $DIR: $N instance(s) of ${SERVICES[*]}, $GATEWAYS gateway(s)"
  for url in "${gateway_urls[@]}"; do echo "gateway: $url"; done
  echo "stop it with: scripts/cluster.sh down $DIR   (or make cluster-down)"
}

down() {
  [ -f "$DIR/pids" ] || { echo "cluster: nothing running in $DIR"; return 0; }
  # Services first (each deregisters, then drains), then the gateways, Redis and etcd.
  tac "$DIR/pids" | while read -r name pid; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "stopped $name"
  done
  # shellcheck disable=SC2034  # read by local_pg_stop
  LOCAL_PG_DIR="$DIR/postgres"
  local_pg_stop
  echo "stopped postgres"
  rm -f "$DIR/pids"
  echo "rocketmart cluster in $DIR is down (its data stays in $DIR)"
}

case "$ACTION" in
  up) up ;;
  down) down ;;
  *) echo "usage: scripts/cluster.sh up|down [DIR]" >&2; exit 2 ;;
esac
