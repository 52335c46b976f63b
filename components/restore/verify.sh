#!/usr/bin/env bash
# verify.sh SECONDS CONTAINER USER DATABASE --command=QUERY: ask the restored database QUERY,
# and print its answer; the database may still be starting, so try for up to SECONDS. The
# query comes as psql's option, whole, so that no text of it is ever read as another option.
set -euo pipefail

seconds="$1" container="$2" user="$3" database="$4" command="$5"
[[ "$command" == --command=* ]] || { echo "verify.sh: the query must come as --command=QUERY" >&2; exit 2; }
answer=""
for _ in $(seq "$seconds"); do
  if answer="$(docker exec "$container" psql -U "$user" -d "$database" --no-psqlrc -v ON_ERROR_STOP=1 -At "$command" 2>&1)"; then
    printf '%s\n' "$answer"
    exit 0
  fi
  sleep 1
done
echo "restore: the verification query failed: $answer" >&2
exit 1
