#!/usr/bin/env bash
# Any Pulumi command on the `local` stack, with the state kept in .pulumi-state/ (ignored by git)
# and the passphrase that only this script gives:
#   npm run local -- preview --diff | stack output | refresh | destroy | cancel | up
# `npm run local:up` is `npm ci`, then `up --yes` through here.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v pulumi >/dev/null || { echo "local: the Pulumi CLI is needed (https://www.pulumi.com/docs/install/)" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: npm run local -- <pulumi command> [its arguments], for example: npm run local -- preview --diff" >&2; exit 2; }

# Tests give their own directory, so that they never touch the state of a stack in use.
state="${MONTAGU_LOCAL_STATE:-$PWD/.pulumi-state}"
mkdir -p "$state"
# The backend is chosen for these commands only; your own `pulumi login` is left alone.
export PULUMI_BACKEND_URL="file://$state"
# The local stack's secrets are generated, not typed, and Pulumi.local.yaml's encryptionsalt is
# the empty passphrase's: a passphrase set for other projects would not open this stack.
export PULUMI_CONFIG_PASSPHRASE=""
unset PULUMI_CONFIG_PASSPHRASE_FILE
pulumi stack select --create local

# What a killed update left (a lock, operations pending) is named with the command that clears
# it, before the command trips over it; preview and the read-only commands are let through.
case "$1" in
  up | update | destroy | refresh | import | watch)
    node_modules/.bin/ts-node --transpile-only scripts/stackHealth.ts "$state" local "$1"
    ;;
esac

case "$1" in
  # Commands about the CLI itself, not a stack: they refuse a --stack flag.
  version | help | plugin | login | logout | whoami | gen-completion) exec pulumi "$@" ;;
  *) exec pulumi "$@" --stack local ;;
esac
