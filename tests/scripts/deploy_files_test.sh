#!/usr/bin/env bash
# Keeps the deployment files (deploy/) and the tested cluster script (scripts/cluster.sh) from
# drifting apart, against the binary itself:
#   1. every rocketmart command in the systemd unit and the compose file is
#      `serve --service <s> --host .. --port .. --data-dir ..`: the flags cluster.sh passes, each
#      one listed by `rocketmart serve --help`, the services the binary knows;
#   2. every ROCKETMART_* variable cluster.sh gives its processes is set by the systemd files and by
#      every rocketmart service of the compose file; those files set no other variable except the
#      deployment-only ones listed below;
#   3. `rocketmart check-config` accepts each one's environment as a process gets it (it refuses an
#      unknown ROCKETMART_* variable and a bad value), with the secrets as files;
#   4. `systemd-analyze verify` reports nothing on the unit (skipped when absent);
#   5. shellcheck on the scripts (skipped when absent).
# Docker is not run (not available on the project's machines): the compose file is only parsed.
# Usage: bash tests/scripts/deploy_files_test.sh [repo-root] [rocketmart-binary]
set -euo pipefail

ROOT="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="$(realpath -m "${2:-${ROCKETMART_BIN:-$ROOT/build/rocketmart}}")"
UNIT="$ROOT/deploy/systemd/rocketmart@.service"
CLUSTER_ENV="$ROOT/deploy/systemd/cluster.env.example"
INSTANCE_ENV="$ROOT/deploy/systemd/instance.env.example"
COMPOSE="$ROOT/deploy/compose.yaml"
CLUSTER="$ROOT/scripts/cluster.sh"
WORK="$(mktemp -d /tmp/rocketmart-deploy-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=tests/scripts/lib/checks.sh
. "$(dirname "$0")/lib/checks.sh"
[ -x "$BIN" ] || { echo "deploy_files_test: $BIN is not an executable" >&2; exit 1; }
python3 -c 'import yaml' 2>/dev/null || { echo "deploy_files_test: needs python3-yaml" >&2; exit 1; }

# Variables a deployment sets that the one-host script does not need (cluster.sh binds 127.0.0.1,
# needs no database password and keeps /metrics on loopback). Anything else must come from
# cluster.sh too.
DEPLOY_ONLY="ROCKETMART_DISCOVERY_ADVERTISE_HOST ROCKETMART_SERVER_ADMIN_HOST
ROCKETMART_MEMBERS_DATABASE_PASSWORD_FILE ROCKETMART_CATALOG_DATABASE_PASSWORD_FILE
ROCKETMART_CHECKOUT_DATABASE_PASSWORD_FILE ROCKETMART_ORDERS_DATABASE_PASSWORD_FILE"

# The extraction, one python3 program: prints lines "<kind> <source> <data...>".
python3 - "$UNIT" "$CLUSTER_ENV" "$INSTANCE_ENV" "$COMPOSE" "$CLUSTER" >"$WORK/facts" <<'EOF'
import re, shlex, sys, yaml
unit, cluster_env, instance_env, compose, cluster = sys.argv[1:]

def flags(words):
    """The --flags after `serve`, in order, and the --service value."""
    words = words[words.index("serve") + 1:]
    names = [w for w in words if w.startswith("--")]
    service = words[words.index("--service") + 1] if "--service" in words else ""
    return names, service

# scripts/cluster.sh: the `serve` command of its rocketmart() function (continuation lines
# joined), and the variables it writes into cluster.env (${s^^} over SERVICES).
text = open(cluster).read().replace("\\\n", " ")
cmd = next(l for l in text.splitlines() if '"$BIN" serve' in l)
names, _ = flags(shlex.split(cmd.strip()))
print("flags cluster.sh", " ".join(names))
services = re.search(r"^SERVICES=\(([^)]*)\)", text, re.M).group(1).split()
for name in re.findall(r'echo "export (ROCKETMART_[A-Za-z0-9_${}^]+)=', text):
    if "${s^^}" in name:
        for s in services:
            print("var cluster.sh", name.replace("${s^^}", s.upper()))
    else:
        print("var cluster.sh", name)

# The systemd unit: ExecStart and Environment=; the env files: KEY=value lines.
env = {}
for line in open(unit):
    line = line.strip()
    if line.startswith("ExecStart="):
        words = shlex.split(line[len("ExecStart="):])
        print("binary systemd", words[0])
        names, service = flags(words)
        print("flags systemd", " ".join(names))
        print("service systemd", service)
    if line.startswith("Environment="):
        k, v = line[len("Environment="):].split("=", 1)
        env[k] = v
for f in (cluster_env, instance_env):
    for line in open(f):
        line = line.strip()
        if line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v
for k, v in env.items():
    print("env systemd", k, v)

# compose.yaml: every service whose command runs rocketmart.
doc = yaml.safe_load(open(compose))
for name, svc in doc["services"].items():
    command = svc.get("command") or []
    if "serve" not in command:
        continue
    print("binary compose:" + name, command[0])
    names, service = flags(command)
    print("flags compose:" + name, " ".join(names))
    print("service compose:" + name, service)
    data_dir = command[command.index("--data-dir") + 1]
    mounts = [v.split(":")[1] for v in svc.get("volumes", [])]
    print("datadir compose:" + name, data_dir, "mounted" if data_dir in mounts else "unmounted")
    for k, v in (svc.get("environment") or {}).items():
        v = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v))  # ${VAR:-default}: the default
        print("env compose:" + name, k, v)
EOF

facts() { awk -v k="$1" -v s="$2" '$1 == k && $2 == s { $1 = ""; $2 = ""; sub(/^  /, ""); print }' "$WORK/facts"; }
sources() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/facts" | sort -u; }

# 1. The command line.
want_flags="$(facts flags cluster.sh)"
[ -n "$want_flags" ] || fail "found no serve command in scripts/cluster.sh"
help="$("$BIN" serve --help)"
for flag in $want_flags; do
  grep -qE -- "^ +$flag( |$)" <<<"$help" || fail "cluster.sh passes $flag, which 'rocketmart serve --help' does not list"
done
sorted() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort | tr '\n' ' '; }
compose_services=""
for src in $(sources flags); do
  [ "$src" = cluster.sh ] && continue
  got="$(facts flags "$src")"
  [ "$(sorted "$got")" = "$(sorted "$want_flags")" ] ||
    fail "$src runs 'serve $got', cluster.sh 'serve $want_flags' (flags differ)"
  service="$(facts service "$src")"
  # shellcheck disable=SC2016  # the unit's literal ${RM_SERVICE}
  case "$src" in
    systemd) [ "$service" = '${RM_SERVICE}' ] || fail "the unit runs --service '$service', not \${RM_SERVICE}" ;;
    *)
      grep -qE -- "--service TEXT:\{([a-z,]*,)?$service(,[a-z,]*)?\}" <<<"$help" ||
        fail "$src runs --service '$service', which 'rocketmart serve --help' does not list"
      compose_services="$compose_services $service"
      ;;
  esac
  binary="$(facts binary "$src")"
  [ "$(basename "${binary:-none}")" = rocketmart ] || fail "$src does not run rocketmart: '$binary'"
done
for s in gateway members catalog checkout orders; do
  grep -qw "$s" <<<"$compose_services" || fail "compose.yaml runs no '$s' instance"
done
while read -r src dir state; do
  [ "$state" = mounted ] || fail "$src keeps its data in $dir, which is no volume (lost with the container)"
done < <(awk '$1 == "datadir" { print $2, $3, $4 }' "$WORK/facts")
# The unit's RM_* values come from the instance file.
svc="$(facts env systemd | awk '$1 == "RM_SERVICE" { print $2 }')"
grep -qE -- "--service TEXT:\{([a-z,]*,)?$svc(,[a-z,]*)?\}" <<<"$help" ||
  fail "instance.env.example sets RM_SERVICE='$svc', not a service the binary knows"
for k in RM_SERVICE RM_HOST RM_PORT; do
  facts env systemd | grep -q "^$k " || fail "instance.env.example does not set $k (used by ExecStart)"
done

# 2. The variables: cluster.sh's are everywhere; nothing else but the deployment-only ones.
want_vars="$(facts var cluster.sh | sort -u)"
[ "$(wc -l <<<"$want_vars")" -ge 8 ] || fail "found only $(wc -l <<<"$want_vars") variables in cluster.sh"
for src in $(sources env); do
  got="$(facts env "$src" | awk '$1 ~ /^ROCKETMART_/ { print $1 }' | sort -u)"
  missing="$(comm -23 <(echo "$want_vars") <(echo "$got") | tr '\n' ' ')"
  [ -z "$missing" ] || fail "$src lacks what cluster.sh gives every process: $missing"
  extra="$(comm -13 <(echo "$want_vars") <(echo "$got") | grep -vxF -f <(tr ' ' '\n' <<<"$DEPLOY_ONLY" | sed '/^$/d') | tr '\n' ' ' || true)"
  [ -z "$extra" ] || fail "$src sets $extra, which cluster.sh does not (add it there, or to DEPLOY_ONLY with the reason)"
done

# 3. The binary accepts each environment: secrets become files of 64 hex characters, the
# systemd credentials directory (%d) and compose's /run/secrets/<name> point into WORK.
mkdir -p "$WORK/creds"
for f in jwt.key internal.key members.key pg jwt internal members; do
  python3 -c 'import secrets; print(secrets.token_hex(32))' >"$WORK/creds/$f"
done
check_config() { # SOURCE: runs check-config with that source's variables only
  local src="$1" args=() k v
  while read -r k v; do
    [[ "$k" == ROCKETMART_* ]] || continue
    v="${v//%d/$WORK/creds}"
    v="${v//\/run\/secrets/$WORK/creds}"
    args+=("$k=$v")
  done < <(facts env "$src")
  mkdir -p "$WORK/run-$src"
  (cd "$WORK/run-$src" && env -i PATH="$PATH" HOME="$WORK" "${args[@]}" "$BIN" check-config \
    --data-dir "$WORK/run-$src/data") >"$WORK/check.out" 2>&1
}
for src in $(sources env); do
  if ! check_config "$src" || ! grep -q "configuration OK" "$WORK/check.out"; then
    fail "rocketmart check-config refuses $src's environment: $(grep -v '^ ' "$WORK/check.out" | tail -3)"
  fi
done
# The same check refuses a misspelt variable (so the one above can fail).
if (cd "$WORK" && env -i PATH="$PATH" ROCKETMART_REDIS_URLL=redis://127.0.0.1:6379 "$BIN" check-config \
  --data-dir "$WORK/typo") >/dev/null 2>&1; then
  fail "rocketmart check-config accepted ROCKETMART_REDIS_URLL: the environment check above proves nothing"
fi

# 4. systemd's own check of the unit, as an instance. verify needs the ExecStart binary to exist:
# the copy runs this build's. Warnings (an unknown key, a bad value) exit 0, so any output fails.
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$WORK/units"
  sed "s#^ExecStart=[^ ]*#ExecStart=$BIN#" "$UNIT" >"$WORK/units/rocketmart@checkout-0.service"
  if ! out="$(systemd-analyze verify "$WORK/units/rocketmart@checkout-0.service" 2>&1)" || [ -n "$out" ]; then
    fail "systemd-analyze verify on the unit: $out"
  fi
else
  echo "SKIP: systemd-analyze not installed, the unit's syntax is not checked"
fi

# 5. shellcheck.
if command -v shellcheck >/dev/null 2>&1; then
  # From the root: cluster.sh sources scripts/lib/local_postgres.sh by a relative path.
  (cd "$ROOT" && shellcheck -x scripts/cluster.sh tests/scripts/cluster_script_test.sh \
    tests/scripts/deploy_files_test.sh) ||
    fail "shellcheck on the cluster scripts"
else
  echo "SKIP: shellcheck not installed"
fi

echo "checked: $(sources env | tr '\n' ' ')against $BIN and scripts/cluster.sh"
finish deploy_files_test
