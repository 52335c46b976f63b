# shellcheck shell=bash
# montagu-prepare's wipe and recover steps (prepare.sh, which sources this file): the staging
# copy, emptied, then made anew by barman, or from the off-site bucket.
# shellcheck disable=SC2154 # dir, work, staging, backup, target, jobs, from_offsite: prepare.sh's

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
