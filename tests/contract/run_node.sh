#!/usr/bin/env bash
# run_node.sh SCRIPT.mjs [ARGS...]: checks for Node.js, then runs the script.
set -euo pipefail
bash "$(dirname "$0")/check_node.sh"
exec node "$@"
