#!/usr/bin/env bash
# montagu-prepare STEP DIR [options]: the steps that make a restorable copy of the database
# in DIR (a volume's mount point), each safe to run again.
#   wipe                        empty DIR, dot files included
#   recover [--backup ID] [--target-time T] [--jobs N]
#                               barman recover into DIR/dump, then move it up into DIR
#                               (barman deletes the directory it recovers into: not a mount point)
#   replay [--timeout S]        start PostgreSQL on DIR until its recovery has ended, then stop
#   stamp                       check that DIR holds a finished copy (shut down cleanly, out of
#                               recovery), then write its time to DIR/.barman-last-restore
#   nightly                     all of the above for DIR, recording success or failure for the metrics
set -euo pipefail

say() { echo "montagu-prepare: $*"; }
step="${1:?usage: montagu-prepare STEP DIR [options]}"
dir="${2:?usage: montagu-prepare STEP DIR [options]}"
shift 2
[ -d "$dir" ] || { say "$dir is not a directory" >&2; exit 1; }

pg=/usr/lib/postgresql/15/bin
backup=latest
target=""
jobs="$(nproc)"
timeout=3600
while [ $# -gt 0 ]; do
  case "$1" in
    --backup) backup="$2"; shift 2 ;;
    --target-time) target="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    *) say "unknown option $1" >&2; exit 2 ;;
  esac
done

wipe() {
  find "$dir" -mindepth 1 -delete
  say "emptied $dir"
}

recover() {
  local partial=""
  # Commits still in the current WAL segment reach the copy only once it is archived: for the
  # latest state, and for a target time that barman's archive does not reach yet (PostgreSQL
  # then ends its recovery before the target, and refuses the copy).
  if montagu-switch-wal 120; then
    say "archived the current WAL segment"
  else
    # The primary is gone: what barman streamed of the current segment is all there is.
    partial="$(ls /var/lib/barman/montagu/streaming/*.partial 2>/dev/null | sort | tail -1 || true)"
    say "could not switch WAL (is the primary down?): the copy ends with the streamed ${partial:-WAL}" >&2
  fi
  rm -rf "$dir/dump"
  local options=(--jobs "$jobs")
  [ -z "$target" ] || options+=(--target-time "$target" --target-action promote)
  say "recovering backup '$backup' of montagu${target:+ to $target} with $jobs jobs"
  barman recover "${options[@]}" montagu "$backup" "$dir/dump"
  shopt -s dotglob
  mv "$dir"/dump/* "$dir"/
  rmdir "$dir/dump"
  if [ -n "$partial" ]; then
    cp "$partial" "$dir/pg_wal/$(basename "$partial" .partial)"
    say "added the streamed, unarchived segment $(basename "$partial" .partial)"
  fi
  say "recovered into $dir ($(du -sh "$dir" | cut -f1))"
}

replay() {
  # As the database would on first start: replay every WAL record now, so that the copy
  # starts at once wherever it is restored.
  chown -R postgres:postgres "$dir"
  chmod 0700 "$dir"
  say "replaying WAL (at most ${timeout}s)"
  runuser -u postgres -- "$pg/pg_ctl" --pgdata="$dir" --wait --timeout="$timeout" --silent \
    --options="-c listen_addresses='' -c unix_socket_directories=/tmp -c port=5499 -c ssl=off -c archive_mode=off -c shared_preload_libraries=''" \
    --log=/tmp/replay.log start || { tail -20 /tmp/replay.log >&2; return 1; }
  runuser -u postgres -- env PATH="$pg:$PATH" montagu-wait-recovery "$dir" "$timeout" --host=/tmp --port=5499 --dbname=postgres ||
    { tail -20 /tmp/replay.log >&2; return 1; }
  runuser -u postgres -- "$pg/pg_ctl" --pgdata="$dir" --wait --silent --mode=fast stop
  say "WAL replayed"
}

stamp() {
  # A copy still in recovery would replay on the target, and if stopped while promoting, past
  # its recovery target: only a finished copy is ever marked ready.
  local state signal
  state="$("$pg/pg_controldata" "$dir" | sed -n 's/^Database cluster state: *//p')"
  for signal in recovery.signal standby.signal; do
    [ ! -e "$dir/$signal" ] || { say "$dir is not ready: $signal is still there (its recovery has not ended)" >&2; return 1; }
  done
  [ "$state" = "shut down" ] || { say "$dir is not ready: its cluster state is '$state', not 'shut down'" >&2; return 1; }
  date -u +%Y-%m-%dT%H:%M:%SZ | tee "$dir/.barman-last-restore"
}

case "$step" in
  wipe) wipe ;;
  recover) recover ;;
  replay) replay ;;
  stamp) stamp ;;
  nightly)
    failure=/metrics/nightly-failed
    if ( wipe && recover && replay && stamp ); then
      # Kept apart from the copy, so that a later failed night, which empties it, keeps this age.
      cp "$dir/.barman-last-restore" /metrics/nightly-last-success
      rm -f "$failure"
    else
      echo "nightly recovery into $dir failed at $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee "$failure" >&2
      exit 1
    fi
    ;;
  *) say "unknown step $step" >&2; exit 2 ;;
esac
