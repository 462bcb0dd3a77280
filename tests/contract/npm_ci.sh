#!/usr/bin/env bash
# Installs the contract tests' pinned npm packages (package-lock.json) into a directory of the
# build tree, never into the source tree: npm_ci.sh SOURCE_DIR PROJECT_DIR. Runs `npm ci` only
# when the lockfile changed since the last install. Needs the npm registry the first time.
set -euo pipefail
src=$1
dst=$2
bash "$src/check_node.sh"
if ! command -v npm >/dev/null 2>&1; then
  echo "contract tests: npm is not installed; install Node.js and npm (scripts/setup.sh does)" >&2
  exit 1
fi
mkdir -p "$dst"
if [ -d "$dst/node_modules" ] && cmp -s "$src/package-lock.json" "$dst/package-lock.json" &&
   cmp -s "$src/package.json" "$dst/package.json"; then
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dst/"
if ! (cd "$dst" && npm ci --no-audit --no-fund --loglevel=error); then
  echo "contract tests: 'npm ci' failed in $dst (is the npm registry reachable?)" >&2
  rm -f "$dst/package-lock.json"  # retry the install next time
  exit 1
fi
