#!/usr/bin/env bash
# Brings up the `local` stack: every role on this machine's Docker engine, state kept in
# .pulumi-state/ inside the repository (ignored by git), nothing remote, no vault.
set -euo pipefail
cd "$(dirname "$0")/.."

docker info >/dev/null 2>&1 || { echo "local-up: no Docker engine answers; start Docker first" >&2; exit 1; }

npm ci --no-audit --no-fund --loglevel=error
exec bash scripts/local.sh up --yes "$@"
