# Runs inside a privateer client container, after images/privateer/client/lock.sh, as:
#   bash -c "$(cat lock.sh copy.sh)" copy [OPTION...] SOURCE/ DESTINATION/ [-- RSYNC_OPTION...]
# SOURCE and DESTINATION are directories, one of them remote (server:path). The result is
# always that of `rsync -a --delete SOURCE/ DESTINATION/`:
# - into an empty or missing DESTINATION (a first push, a restore onto a new machine), the
#   files go over in parallel streams first, since one rsync receiver is bound by the cost of
#   creating files rather than by the link; a final `rsync -a --delete` then sets directories
#   and anything that changed meanwhile, and finds the rest current (its quick check of size
#   and mtime is safe here: every file on the destination was just written from the source);
# - otherwise one `rsync -a --delete RSYNC_OPTION...` updates it in place.
# Before anything changes, the source is checked; a refusal exits 3, naming the copy and why.
# Options:
#   --lock DIR:MODE       hold the server's lock on DIR (shared or exclusive) for the whole copy
#   --allow-empty         copy an empty source (refused otherwise: it would empty DESTINATION)
#   --require-stamp NAME  the source is a prepared copy, finished only once NAME is at its top
#   --exclude-top NAME    leave NAME, at the top of the source, out (neither copied nor deleted)
#   --newest-in DIR       the source is the newest snapshot in the server's DIR
#   --keep-history        (a push, with --lock on DESTINATION, exclusive) first keep DESTINATION as
#                         it is in the server's history (unless the last push kept it already),
#                         and mark it unfinished on the server until the push has ended, when
#                         the server keeps the pushed copy too, under the same lock: all asked
#                         of the session holding the lock
#   --refuse-unfinished   (a restore of a client's copy) refuse a copy whose last push did not
#                         finish: it holds part of that push
#   --restore-stamp FILE  (a restore) FILE records the source restored into DESTINATION, written
#                         once the copy is whole. When it names this source, the files changed in
#                         DESTINATION since (a ctime newer than FILE's: no program can set one
#                         back) are sent again and the rest are compared by size and mtime;
#                         otherwise the RSYNC_OPTIONs (--checksum) compare every file by content
#   --check               check the source, report it, and copy nothing
# On the server, what a transfer asks besides rsync goes to privateer-gate's verbs
# (`montagu VERB PATH`), which allow a client exactly that on the paths it may use.
# shellcheck disable=SC2016,SC2029 # programs run where a directory lives expand there, by design
set -euo pipefail

say() { echo "copy: $*"; }
refuse() { echo "copy: refused: $*" >&2; exit 3; }

lock="" allow_empty=no stamp="" newest_in="" keep_history=no refuse_unfinished=no check_only=no restore_stamp=""
excludes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --lock) lock="$2"; shift 2 ;;
    --allow-empty) allow_empty=yes; shift ;;
    --require-stamp) stamp="$2"; shift 2 ;;
    --exclude-top) excludes+=("$2"); shift 2 ;;
    --newest-in) newest_in="$2"; shift 2 ;;
    --keep-history) keep_history=yes; shift ;;
    --refuse-unfinished) refuse_unfinished=yes; shift ;;
    --restore-stamp) restore_stamp="$2"; shift 2 ;;
    --check) check_only=yes; shift ;;
    -*) echo "copy: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
source_dir="$1"
destination_dir="$2"
shift 2
[ "${1:-}" != -- ] || shift

is_remote() { [[ "$1" == *:* ]]; }
describe() { if is_remote "$1"; then echo "${1#*:} on ${1%%:*}"; else echo "$1 here"; fi; }
if is_remote "$source_dir"; then server="${source_dir%%:*}"; else server="${destination_dir%%:*}"; fi

work="$(mktemp -d)"
# One ssh connection for the lock, the looks at both ends and the single rsync after them, so
# that an update pays for one handshake, as privateer's single rsync does. Each session on it
# still starts the server's gate (a Python process): a push asks its server-side steps of the
# session that holds its lock, leaving one other, its rsync's.
# The cipher from what was measured (openssl speed, 16 KB blocks, 2026-12-05): AES-128-GCM 4.5 GB/s
# where the CPU has AES instructions and 0.32 GB/s where it has not; ChaCha20-Poly1305 3.7 GB/s
# either way. The server's sshd takes both (images/privateer/server/sshd_config).
if grep -qw aes /proc/cpuinfo 2>/dev/null; then cipher=aes128-gcm@openssh.com; else cipher=chacha20-poly1305@openssh.com; fi
ssh_command="ssh -c $cipher"
shared_ssh="$ssh_command -o ControlMaster=auto -o ControlPersist=yes -o ControlPath=$work/master"
trap '$shared_ssh -O exit "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# Asks VERB of a directory where it lives: of the server's gate, or of the same verb here.
#   list DIR              the names at DIR's top, or "(missing)"
#   fresh DIR             "yes" if DIR is missing or empty, having made it
#   files DIR [TOP...]    every file below DIR but the TOP names, as "size<TAB>./path<NUL>"
#   stamp DIR NAME        the content of DIR/NAME, if there is one (servers only)
#   newest DIR            the newest snapshot's name in the history DIR (servers only)
#   unfinished DIR        when the last push into the copy DIR started, if it has not ended (servers only)
look() {
  local verb="$1" where="$2"
  shift 2
  if is_remote "$where"; then
    $shared_ssh "$server" "montagu $verb $(printf '%q ' "${where#*:}" "$@")"
    return
  fi
  case "$verb" in
    list) if [ -d "$where" ]; then ls -A "$where"; else echo "(missing)"; fi ;;
    fresh) if [ ! -e "$where" ] || [ -z "$(ls -A "$where")" ]; then mkdir -p "$where" && echo yes; fi ;;
    files)
      local prune=() name
      for name in "$@"; do prune+=(-path "./$name" -prune -o); done
      (cd "$where" && find . -mindepth 1 "${prune[@]}" ! -type d -printf '%s\t%p\0') ;;
    *) echo "copy: $verb is asked of servers only" >&2; return 2 ;;
  esac
}
rsync_progress() { rsync -a --info=progress2 "$@"; }

destination_path="${destination_dir#*:}"
if [ "$keep_history" = yes ] && [ "$lock" != "${destination_path%/}:exclusive" ]; then
  echo "copy: --keep-history takes --lock ${destination_path%/}:exclusive" >&2
  exit 2
fi
if [ -n "$lock" ]; then
  LOCK_SSH="$shared_ssh" hold_lock "$server" "${lock%:*}" "${lock##*:}"
fi

if [ -n "$newest_in" ]; then
  newest="$(look newest "$server:$newest_in")"
  [ -n "$newest" ] || refuse "$server keeps no snapshot in $newest_in"
  source_dir="$server:$newest_in/$newest/"
  say "the newest snapshot on $server is $newest"
fi

if [ "$refuse_unfinished" = yes ]; then
  started="$(look unfinished "$source_dir")"
  [ -z "$started" ] || refuse "the last push into $(describe "$source_dir"), started at $started, did not finish: the copy holds part of it. Push again, or restore 'snapshot: latest', the copy as it was before that push"
fi

# What is at the top of the source, but what is left out: empty means nothing to copy.
excluded="$(printf '%s\n' "${excludes[@]+"${excludes[@]}"}")"
contents="$(look list "$source_dir")"
if [ "$contents" = "(missing)" ]; then
  refuse "$(describe "$source_dir") does not exist"
fi
contents="$(grep -vxF -f <(printf '%s\n' "$excluded") <<<"$contents" || true)"
if [ -n "$stamp" ]; then
  stamped="$(look stamp "$source_dir" "$stamp")"
  [ -n "$stamped" ] || refuse "$(describe "$source_dir") holds no finished copy ($stamp is missing: no prepare has finished into it); prepare one, then restore"
  say "$(describe "$source_dir") holds a copy prepared at $stamped"
fi
if [ -z "$contents" ] && [ "$allow_empty" = no ]; then
  refuse "$(describe "$source_dir") is empty: copying it would empty $(describe "$destination_dir") (set allowEmpty on this entry if that is really meant)"
fi
if [ "$check_only" = yes ]; then
  say "$(describe "$source_dir") can be copied ($(grep -c . <<<"$contents" || true) entries at its top)"
  exit 0
fi

fresh=""
if [ "$keep_history" = yes ]; then
  started="$(date +%s%N)"
  lock_request begin
  [ "$LOCK_ANSWER" != fresh ] || fresh=yes
  say "the copy this push replaces is kept ($(( ($(date +%s%N) - started) / 1000000 )) ms)"
else
  fresh="$(look fresh "$destination_dir")"
fi

rsync_excludes=()
for name in "${excludes[@]+"${excludes[@]}"}"; do rsync_excludes+=("--exclude=/$name"); done

streams="$(nproc)"
[ "$streams" -ge 2 ] || streams=2
[ "$streams" -le 4 ] || streams=4

if [ "$fresh" = yes ]; then
  # Largest first, each to the least loaded stream: a database's few large files spread out,
  # and the streams end together. Paths are NUL-separated, since a file name may hold any
  # character but that one.
  look files "$source_dir" "${excludes[@]+"${excludes[@]}"}" | sort --zero-terminated --numeric-sort --reverse |
    awk -v streams="$streams" -v parts="$work/part-" '
      BEGIN { RS = "\0" }
      {
        tab = index($0, "\t"); size = substr($0, 1, tab - 1) + 0
        least = 0
        for (i = 1; i < streams; i++) if (load[i] < load[least]) least = i
        load[least] += size; count++; total += size
        printf "%s%c", substr($0, tab + 1), 0 > (parts least)
      }
      END { printf "%d %.0f\n", count, total }' > "$work/counts"
  read -r count total < "$work/counts"
  if [ "$count" -gt 0 ]; then
    say "first copy of $count files ($((total / 1000000)) MB) in $streams parallel streams"
    # The tree first, so that no two streams race to create the same directory.
    rsync -a --rsh="$shared_ssh" "${rsync_excludes[@]+"${rsync_excludes[@]}"}" --filter='+ */' --filter='- *' "$source_dir" "$destination_dir"
    pids=()
    for part in "$work"/part-*; do
      # A connection each: one ssh connection would carry every stream through one cipher.
      rsync_progress --rsh="$ssh_command" --from0 --files-from="$part" "$source_dir" "$destination_dir" &
      pids+=("$!")
    done
    failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ "$failed" = 0 ] || { say "a stream failed: nothing after it runs; run again to resume" >&2; exit 1; }
  fi
  say "directories, deletions and what changed meanwhile"
  # The update options are not needed: nothing on the destination predates this copy.
  set --
fi
# A destination that holds what an earlier restore of this source left there needs no content
# comparison: a file unchanged here since is that copy, with its size and mtime, and rsync's
# quick check is as sure of it as the push that made the server's copy was.
source_id="$(describe "$source_dir")"
if [ -n "$restore_stamp" ] && [ "$fresh" != yes ] && [ -f "$restore_stamp" ] && [ "$(sed -n 1p "$restore_stamp")" = "$source_id" ]; then
  changed=0
  while IFS= read -r -d '' path; do
    touch -h -d @0 "$path"
    changed=$((changed + 1))
  done < <(find "${destination_dir%/}" ! -type d -cnewer "$restore_stamp" -print0)
  say "$(describe "$destination_dir") holds the copy of it restored at $(sed -n 2p "$restore_stamp"): what changed here since is sent again ($changed files), the rest is compared by size and mtime"
  # A file that changed at the source is updated where it is (--inplace): only the blocks that
  # differ are written, where a new file would be written whole (a database's 1 GB segment
  # for a few of its rows). A restore killed half way leaves such a file with a ctime newer
  # than the record, so the next one sends it again, as above. Not where a file has another
  # name (a hard link): that name would change with it.
  linked="$(find "${destination_dir%/}" ! -type d -links +1 -print -quit)"
  if [ -z "$linked" ]; then
    set -- --inplace
  else
    say "$linked has other names (hard links) here: each changed file is written anew, leaving them as they are"
    set --
  fi
fi
# The whole file list first (--no-inc-recursive) rather than directory by directory: measured
# here, a push of 20,000 files after 1% changed takes 0.99 s this way against 1.16 s.
rsync_progress --rsh="$shared_ssh" --delete --no-inc-recursive --info=stats2 "${rsync_excludes[@]+"${rsync_excludes[@]}"}" "$@" "$source_dir" "$destination_dir"
if [ "$keep_history" = yes ]; then
  lock_request pushed
fi
if [ -n "$restore_stamp" ]; then
  # Once the copy is whole: the record's own ctime, from the clock that stamps every file's, is
  # the time the next restore compares with.
  printf '%s\n%s\n' "$source_id" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$restore_stamp.partial"
  mv "$restore_stamp.partial" "$restore_stamp"
fi
