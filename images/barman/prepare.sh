#!/usr/bin/env bash
# montagu-prepare STEP DIR [options]: the steps that make a restorable copy of the database
# in DIR (a volume's mount point, served as it is to restores), each safe to run again. The
# copy is made in DIR/.montagu/staging and takes the place of DIR's copy only once finished,
# so that a prepare that fails or is killed leaves the last finished copy where it was.
#   wipe                        empty the staging copy
#   recover [--backup ID] [--target-time T] [--jobs N] [--from-offsite]
#                               barman recover into the staging copy, emptied first; with
#                               --from-offsite, the backup and its WAL from the off-site bucket
#                               instead (montagu-offsite-barman recover), barman's own unused
#   replay [--timeout S]        start PostgreSQL on the staging copy until its recovery has
#                               ended, then stop
#   stamp                       check that the staging copy is finished (shut down cleanly, out
#                               of recovery), write its time to its .barman-last-restore, and
#                               put it in DIR's place (under DIR's lock, which restores share)
#   verify                      montagu-verify DIR (images/barman/verify.sh): prove DIR's
#                               finished copy restorable, for the metrics
#   nightly                     all of the above for DIR, recording success or failure for the metrics
# Messages go to stderr; stamp prints the copy's time alone on stdout.
set -euo pipefail

say() { echo "montagu-prepare: $*" >&2; }
step="${1:?usage: montagu-prepare STEP DIR [options]}"
dir="${2:?usage: montagu-prepare STEP DIR [options]}"
shift 2
[ -d "$dir" ] || { say "$dir is not a directory"; exit 1; }
STAMP=.barman-last-restore
VERIFY_FAILURE=/metrics/nightly-verify-failed
work="$dir/.montagu"
staging="$work/staging"
previous="$work/previous"

pg=/usr/lib/postgresql/15/bin
backup=latest
target=""
jobs="$(nproc)"
timeout=3600
from_offsite=no
while [ $# -gt 0 ]; do
  case "$1" in
    --from-offsite) from_offsite=yes; shift ;;
    --backup) backup="$2"; shift 2 ;;
    --target-time) target="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    *) say "unknown option $1" >&2; exit 2 ;;
  esac
done

# The newest WAL segment barman gave a copy for its recovery (in its pg_wal, or a symlink's
# target), as its log and segment number: the newest of the highest timeline there, since an
# older timeline may go on past the point where the newer one branched off it.
newest_segment() {
  { find -H "$1/pg_wal/" "$1/barman_wal/" -maxdepth 1 -type f -regextype posix-egrep -regex '.*/[0-9A-F]{24}' -printf '%f\n' 2>/dev/null || true; } |
    sort | tail -1 | cut -c9-
}

wipe() {
  rm -rf "$staging"
  mkdir -p "$staging"
  say "emptied the staging copy in $dir"
}

recover_from_offsite() {
  # A new backup host has only the bucket: nothing to switch, no barman archive to read.
  mkdir -p "$work"
  rm -f "$work/wal-switched"
  rm -rf "$staging"
  mkdir -p "$staging"
  local options=(--backup "$backup")
  [ -z "$target" ] || options+=(--target-time "$target")
  montagu-offsite-barman recover "$staging" "${options[@]}"
  if [ -n "$target" ]; then
    rm -f "$work/wal-supplied"
  else
    newest_segment "$staging" >"$work/wal-supplied"
    [ -s "$work/wal-supplied" ] || { say "the bucket gave the copy in $dir no WAL to replay"; return 1; }
  fi
  say "recovered backup '$backup' from the off-site bucket into the staging copy in $dir ($(du -sh "$staging" | cut -f1))"
}

recover() {
  if [ "$from_offsite" = yes ]; then
    recover_from_offsite
    return
  fi
  local partial=""
  # Commits still in the current WAL segment reach the copy only once it is archived: for the
  # latest state, and for a target time that barman's archive does not reach yet (PostgreSQL
  # then ends its recovery before the target, and refuses the copy).
  local switched
  mkdir -p "$work"
  rm -f "$work/wal-switched"
  if switched="$(montagu-switch-wal 120)"; then
    # The segment closed for this copy ends in a switch record: a recovery that read it all
    # goes on into the next one.
    sed -n 's/^.*The WAL file \([0-9A-F]\{24\}\) has been closed.*$/\1/p' <<<"$switched" | cut -c9- >"$work/wal-switched"
    say "archived the current WAL segment $(cat "$work/wal-switched")"
  else
    # The primary is gone: what barman streamed of the current segment is all there is.
    partial="$(ls /var/lib/barman/montagu/streaming/*.partial 2>/dev/null | sort | tail -1 || true)"
    say "could not switch WAL (is the primary down?): the copy ends with the streamed ${partial:-WAL}" >&2
  fi
  # From nothing, so that a recovery run again after a failed one never mixes two.
  rm -rf "$staging"
  mkdir -p "$staging"
  local options=(--jobs "$jobs")
  [ -z "$target" ] || options+=(--target-time "$target" --target-action promote)
  say "recovering backup '$backup' of montagu${target:+ to $target} with $jobs jobs"
  barman recover "${options[@]}" montagu "$backup" "$staging/dump" >&2
  shopt -s dotglob
  mv "$staging"/dump/* "$staging"/
  rmdir "$staging/dump"
  if [ -n "$partial" ]; then
    cp "$partial" "$staging/pg_wal/$(basename "$partial" .partial)"
    say "added the streamed, unarchived segment $(basename "$partial" .partial)"
  fi
  # What the replay must reach. PostgreSQL ends a recovery at the first record it cannot read,
  # as if the WAL ended there: a damaged segment would give a copy that lacks, silently, every
  # commit after it. (A target time that the WAL does not reach, PostgreSQL refuses itself.)
  if [ -n "$target" ]; then
    rm -f "$work/wal-supplied" "$work/wal-switched"
  else
    newest_segment "$staging" >"$work/wal-supplied"
    [ -s "$work/wal-supplied" ] || { say "barman gave the copy in $dir no WAL to replay: its recovery could not be checked against barman's archive"; return 1; }
  fi
  say "recovered into the staging copy in $dir ($(du -sh "$staging" | cut -f1))"
}

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

# One field of pg_controldata's report on the staging copy, by its label.
controldata() { "$pg/pg_controldata" "$staging" | sed -n "s/^$1: *//p"; }

# A copy shut down cleanly needs, of its WAL, only the segment that holds its last checkpoint
# record (and the next, should the record run into it). The rest is WAL already replayed and
# segments PostgreSQL renamed ahead for reuse, which hold old WAL: up to max_wal_size of bytes
# that every restore would send (218 MB of a 1.3 GB copy, measured), and a refresh whole, as
# they are new files each time. Run again, it finds nothing more to remove.
trim_wal() {
  local redo location segment_bytes offset per_log log seg keep_next="" name removed=0
  redo="$(controldata "Latest checkpoint's REDO WAL file")"
  location="$(controldata "Latest checkpoint location")"
  segment_bytes="$(controldata "Bytes per WAL segment")"
  if ! [[ "$redo" =~ ^[0-9A-F]{24}$ && "$location" =~ ^[0-9A-F]+/[0-9A-F]+$ && "$segment_bytes" =~ ^[0-9]+$ ]]; then
    say "the copy's WAL is left whole: pg_controldata did not say where its checkpoint is"
    return
  fi
  # A shutdown checkpoint's record is where its redo starts; anything else is left as it is.
  log=$((16#${location%/*})) seg=$(( 16#${location#*/} / segment_bytes ))
  if [ "${redo:0:8}$(printf '%08X%08X' "$log" "$seg")" != "$redo" ]; then
    say "the copy's WAL is left whole: its last checkpoint ($location) is not in its redo segment $redo"
    return
  fi
  offset=$(( 16#${location#*/} % segment_bytes ))
  # The record may run into the next segment only if it starts in the last page.
  if [ "$offset" -gt $((segment_bytes - 8192)) ]; then
    per_log=$(( 0x100000000 / segment_bytes ))
    seg=$((seg + 1))
    if [ "$seg" -ge "$per_log" ]; then seg=0 log=$((log + 1)); fi
    keep_next="${redo:0:8}$(printf '%08X%08X' "$log" "$seg")"
  fi
  for name in "$staging"/pg_wal/*; do
    name="${name##*/}"
    [[ "$name" =~ ^[0-9A-F]{24}$ ]] || continue
    [ "$name" != "$redo" ] && [ "$name" != "$keep_next" ] || continue
    rm -f "$staging/pg_wal/$name" "$staging/pg_wal/archive_status/$name".*
    removed=$((removed + 1))
  done
  say "kept WAL segment $redo${keep_next:+ and $keep_next}, where the copy's last checkpoint is; removed $removed others"
}

stamp() {
  # A copy still in recovery would replay on the target, and if stopped while promoting, past
  # its recovery target: only a finished copy is ever marked ready.
  local state signal
  [ -f "$staging/PG_VERSION" ] || { say "no staging copy in $dir to stamp: recover first"; return 1; }
  state="$(controldata "Database cluster state")"
  for signal in recovery.signal standby.signal; do
    [ ! -e "$staging/$signal" ] || { say "the copy in $dir is not ready: $signal is still there (its recovery has not ended)"; return 1; }
  done
  [ "$state" = "shut down" ] || { say "the copy in $dir is not ready: its cluster state is '$state', not 'shut down'"; return 1; }
  # Whichever replayed it (replay, or the database image for a prepare), the recovery must
  # have reached the newest segment recover gave the copy. Same-length upper-case hex: text
  # order is number order.
  local supplied switched ended
  supplied="$(cat "$work/wal-supplied" 2>/dev/null || true)"
  switched="$(cat "$work/wal-switched" 2>/dev/null || true)"
  ended="$(controldata "Latest checkpoint's REDO WAL file" | cut -c9-)"
  if [ -n "$supplied" ] && [[ "$ended" < "$supplied" ]]; then
    say "the copy's recovery ended in WAL segment $ended, before $supplied, the newest barman gave it: a segment between them is damaged or missing, and the copy would lack every commit after it"
    return 1
  fi
  if [ -n "$switched" ] && [[ ! "$ended" > "$switched" ]]; then
    say "the copy's recovery ended in WAL segment $ended, short of the end of $switched, which was closed for this copy: that segment is damaged, and the copy would lack the commits at its end"
    return 1
  fi
  trim_wal
  date -u +%Y-%m-%dT%H:%M:%SZ >"$staging/$STAMP"
  # Restores hold DIR's lock (shared) while they read it: the swap waits for them, and they for it.
  local status=0
  flock --nonblock --conflict-exit-code 75 --exclusive "$dir" "$0" swap "$dir" || status=$?
  if [ "$status" -eq 75 ]; then
    say "a restore is reading $dir: the finished copy takes its place once that restore ends"
    flock --exclusive "$dir" "$0" swap "$dir"
  elif [ "$status" -ne 0 ]; then
    return "$status"
  fi
  rm -rf "$previous"
  cat "$dir/$STAMP"
}

# Under DIR's lock: the served copy moves aside and the staging copy takes its place, by renames
# within the volume. The served stamp goes first and the new one comes last, so that DIR is
# never stamped while it holds part of a copy. Killed half way, it resumes: previous/.moved-out
# says whether the old copy is all aside yet.
swap() {
  local entry
  [ -f "$staging/$STAMP" ] || { say "no finished copy is staged in $dir"; return 1; }
  # DIR stamped means the last swap finished (its stamp comes last): whatever it left aside,
  # its clean-up cut short, is no copy's any more.
  if [ -e "$dir/$STAMP" ]; then rm -rf "$previous"; fi
  mkdir -p "$previous"
  shopt -s dotglob nullglob
  if [ ! -e "$previous/.moved-out" ]; then
    [ ! -e "$dir/$STAMP" ] || mv "$dir/$STAMP" "$previous/"
    for entry in "$dir"/*; do
      [ "$entry" = "$work" ] || mv "$entry" "$previous/"
    done
    touch "$previous/.moved-out"
  fi
  # A database's directory is its owner's alone: the volume's top takes the copy's owner and mode.
  chown --reference="$staging" "$dir"
  chmod --reference="$staging" "$dir"
  for entry in "$staging"/*; do
    [ "$entry" = "$staging/$STAMP" ] || mv "$entry" "$dir/"
  done
  mv "$staging/$STAMP" "$dir/$STAMP"
  rmdir "$staging"
  rm "$previous/.moved-out"
  say "the copy of $(cat "$dir/$STAMP") is in place in $dir"
}


case "$step" in
  wipe) wipe ;;
  recover) recover ;;
  replay) replay ;;
  stamp) stamp ;;
  swap) swap ;;
  verify) exec montagu-verify "$dir" --timeout "$timeout" ;;
  nightly)
    failure=/metrics/nightly-failed
    # Each step a process of its own: inside `a && b`, bash would not stop at a failing command.
    if "$0" wipe "$dir" && "$0" recover "$dir" && "$0" replay "$dir" && "$0" stamp "$dir" >/dev/null; then
      # Kept apart from the copy, so that a later failed night keeps this age.
      cp "$dir/.barman-last-restore" /metrics/nightly-last-success
      rm -f "$failure"
    else
      echo "nightly recovery into $dir failed at $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee "$failure" "$VERIFY_FAILURE" >&2
      exit 1
    fi
    # A night is good only once its copy is proven restorable.
    "$0" verify "$dir"
    ;;
  *) say "unknown step $step" >&2; exit 2 ;;
esac
