#!/usr/bin/env bash
# Brings up the `local` stack: every role on this machine's Docker engine, state kept in
# .pulumi-state/ inside the repository (ignored by git), nothing remote, no vault.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v pulumi >/dev/null || { echo "local-up: the Pulumi CLI is needed (https://www.pulumi.com/docs/install/)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "local-up: no Docker engine answers; start Docker first" >&2; exit 1; }

npm ci --no-audit --no-fund --loglevel=error
mkdir -p .pulumi-state
# The backend is chosen for these commands only; your own `pulumi login` is left alone.
export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
# The local stack's secrets are generated, not typed: an empty passphrase is enough here.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
pulumi stack select --create local
pulumi up --yes "$@"
