#!/usr/bin/env bash
# montagu-wait.sh SECONDS: waits until the server accepts connections, as montagu-db's does.
set -euo pipefail
timeout="${1:-60}"
deadline=$((SECONDS + timeout))
until pg_isready --quiet --host=127.0.0.1 --port=5432; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "montagu-wait: database did not accept connections within ${timeout}s" >&2
    exit 1
  fi
  sleep 0.2
done
