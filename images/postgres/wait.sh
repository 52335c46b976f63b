#!/usr/bin/env bash
# montagu-wait.sh SECONDS: waits until the server accepts connections, as montagu-db's does.
set -euo pipefail
timeout="${1:-60}"
for ((waited = 0; waited < timeout; waited++)); do
  if pg_isready --quiet --host=127.0.0.1 --port=5432; then
    exit 0
  fi
  sleep 1
done
echo "montagu-wait: database did not accept connections within ${timeout}s" >&2
exit 1
