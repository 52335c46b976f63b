# shellcheck shell=bash
# montagu-prepare's stamp step (prepare.sh, which sources this file): the staging copy checked
# finished, its WAL trimmed, stamped, and swapped into DIR's place (prepare-swap.sh, under DIR's lock).
# shellcheck disable=SC2154 # dir, work, staging, previous, pg, STAMP: prepare.sh's

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
