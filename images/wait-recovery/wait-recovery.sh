#!/usr/bin/env bash
# montagu-wait-recovery PGDATA SECONDS [PSQL_OPTION...]: waits, as the owner of PGDATA, until
# its server has ended recovery: it answers and is not in recovery. pg_ctl's own wait ends
# when a copy in archive recovery reaches a consistent state, long before it has replayed to
# its target. Stopped before the end, the copy is unfinished; stopped while promoting, its
# next start is a crash recovery that replays past the recovery target.
set -euo pipefail
pgdata="${1:?usage: montagu-wait-recovery PGDATA SECONDS [PSQL_OPTION...]}"
timeout="${2:?usage: montagu-wait-recovery PGDATA SECONDS [PSQL_OPTION...]}"
shift 2
deadline=$((SECONDS + timeout))
until [ "$(psql --no-psqlrc -Atc 'SELECT pg_is_in_recovery()' "$@" 2>/dev/null)" = f ]; do
  if ! pg_ctl status --pgdata="$pgdata" >/dev/null 2>&1; then
    echo "montagu-wait-recovery: the server on $pgdata stopped before its recovery ended" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "montagu-wait-recovery: the server on $pgdata is still in recovery after ${timeout}s" >&2
    exit 1
  fi
  sleep 0.2
done
