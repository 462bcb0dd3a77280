#!/usr/bin/env bash
# Fails with a clear message when Node.js (>= 18) is missing: the contract and docs tests need it.
if ! command -v node >/dev/null 2>&1; then
  echo "these tests need Node.js >= 18: install nodejs and npm (scripts/setup.sh does)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "these tests need Node.js >= 18, found $(node --version)" >&2
  exit 1
fi
