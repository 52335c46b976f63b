#!/usr/bin/env bash
# montagu-switch-wal [TIMEOUT]: close the primary's current WAL segment and wait, at most
# TIMEOUT seconds (default 120), until barman has archived it.
# barman's streaming archiver holds back the newest complete segment until WAL of the next one
# arrives; on a quiet primary that waits for its next background record, 0 to 20 s measured
# here. A tiny transaction every half second while barman waits brings that WAL at once.
set -euo pipefail
timeout="${1:-120}"
conninfo="$(sed -n 's/^conninfo = //p' /etc/barman.conf | head -1) connect_timeout=5"

barman switch-wal --force --archive --archive-timeout "$timeout" montagu &
switch=$!
while kill -0 "$switch" 2>/dev/null; do
  # A primary that is down cannot be nudged: barman then fails on its own, and says why.
  psql "$conninfo" --no-psqlrc --quiet --tuples-only --command 'SELECT txid_current()' >/dev/null 2>&1 || true
  sleep 0.5
done
wait "$switch"
