# shellcheck shell=bash
# montagu-prepare's replay step (prepare.sh, which sources this file): the staging copy's
# recovery, run to its end by PostgreSQL here.
# shellcheck disable=SC2154 # staging, pg, timeout: prepare.sh's

replay() {
  # As the database would on first start: replay every WAL record now, so that the copy
  # starts at once wherever it is restored.
  chown -R postgres:postgres "$staging"
  chmod 0700 "$staging"
  say "replaying WAL (at most ${timeout}s)"
  runuser -u postgres -- "$pg/pg_ctl" --pgdata="$staging" --wait --timeout="$timeout" --silent \
    --options="-c listen_addresses='' -c unix_socket_directories=/tmp -c port=5499 -c ssl=off -c archive_mode=off -c shared_preload_libraries=''" \
    --log=/tmp/replay.log start || { tail -20 /tmp/replay.log >&2; return 1; }
  runuser -u postgres -- env PATH="$pg:$PATH" montagu-wait-recovery "$staging" "$timeout" --host=/tmp --port=5499 --dbname=postgres ||
    { tail -20 /tmp/replay.log >&2; return 1; }
  runuser -u postgres -- "$pg/pg_ctl" --pgdata="$staging" --wait --silent --mode=fast stop
  say "WAL replayed"
}
