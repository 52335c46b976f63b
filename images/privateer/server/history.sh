# The history of the copies on a privateer server: hard-link snapshots of `<client>/<volume>/`,
# so that an unchanged file costs no space (rsync writes a changed file anew and renames it
# into place, so a snapshot's files are never edited). Run on the server by bash:
#   snapshot COPY HISTORY [--settle SECONDS]
#       keep COPY as it is now in HISTORY/<time> (UTC, 20261126T131500Z), unless it is empty or
#       unchanged since the newest snapshot; with --settle, not while it changed less than
#       SECONDS ago (a push that takes no lock, from the privateer CLI, may be under way)
#   prune HISTORY --daily N --weekly M [--recent HOURS]
#       keep every snapshot of the last HOURS (24), so that the copy a push replaced outlives
#       the next round; and the newest snapshot, the newest of each of the N latest days and of
#       each of the M latest ISO weeks that have one; delete the rest
#   scheduled ROOT --daily N --weekly M --settle SECONDS
#       snapshot and prune every ROOT/<client>/<volume>, each under the lock transfers take
#       (one in use is left for the next round)
# shellcheck disable=SC2016
set -euo pipefail

say() { echo "history: $*"; }
fail() { echo "history: $*" >&2; exit 1; }
STATE=.state

# The options of prune and scheduled, with their defaults.
daily=7 weekly=4 recent=24 settle=120
parse_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --daily) daily="$2" ;;
      --weekly) weekly="$2" ;;
      --recent) recent="$2" ;;
      --settle) settle="$2" ;;
      *) fail "unknown option $1" ;;
    esac
    shift 2
  done
}

# Names, types, modes, owners, sizes, times and inodes of every entry: a new inode means the
# file was written anew.
state_of() { (cd "$1" && find . -printf '%i %y %m %U %G %s %T@ %p\0' | sort -z | md5sum | cut -d' ' -f1); }
snapshots() { find "$1" -mindepth 1 -maxdepth 1 -type d -regextype posix-egrep -regex '.*/[0-9]{8}T[0-9]{6}Z' -printf '%f\n' | sort; }

snapshot() {
  local copy="$1" history="$2" settle=0
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --settle) settle="$2"; shift 2 ;;
      *) fail "unknown option $1" ;;
    esac
  done
  if [ ! -d "$copy" ] || [ -z "$(ls -A "$copy")" ]; then
    say "$copy is empty or missing: nothing to keep"
    return 0
  fi
  local state
  state="$(state_of "$copy")"
  if [ "$state" = "$(cat "$history/$STATE" 2>/dev/null || true)" ]; then
    say "$copy is unchanged since snapshot $(snapshots "$history" | tail -1)"
    return 0
  fi
  if [ "$settle" -gt 0 ]; then
    local newest age
    newest="$(find "$copy" -printf '%C@\n' | sort -n | tail -1)"
    age=$(( $(date +%s) - ${newest%.*} ))
    if [ "$age" -lt "$settle" ]; then
      say "$copy changed ${age}s ago: a push may be under way; left for the next round"
      return 0
    fi
  fi
  mkdir -p "$history"
  rm -rf "$history"/.partial-*
  local name began
  began="$(date +%s%N)"
  name="$(date -u +%Y%m%dT%H%M%SZ)"
  while [ -e "$history/$name" ]; do sleep 1; name="$(date -u +%Y%m%dT%H%M%SZ)"; done
  # A snapshot cut short (a full disk) is never kept as if it were whole.
  cp -al "$copy" "$history/.partial-$name" || { rm -rf "$history/.partial-$name"; fail "could not keep $copy: the copy is not kept"; }
  mv "$history/.partial-$name" "$history/$name"
  printf '%s\n' "$state" >"$history/$STATE"
  say "kept $copy as snapshot $name ($(( ($(date +%s%N) - began) / 1000000 )) ms)"
}

prune() {
  local history="$1"
  shift
  parse_options "$@"
  [ -d "$history" ] || return 0
  local name day week newest="" days_kept=0 weeks_kept=0 last_day="" last_week="" keep since
  newest="$(snapshots "$history" | tail -1)"
  since="$(date -u -d "-$recent hours" +%Y%m%dT%H%M%SZ)"
  # Newest first: the first snapshot seen of a day (or week) is that day's newest.
  for name in $(snapshots "$history" | sort -r); do
    day="${name:0:8}"
    week="$(date -u -d "${day:0:4}-${day:4:2}-${day:6:2}" +%G-W%V)"
    keep=no
    [ "$name" != "$newest" ] || keep=yes
    [[ "$name" < "$since" ]] || keep=yes
    if [ "$day" != "$last_day" ]; then
      last_day="$day"
      if [ "$days_kept" -lt "$daily" ]; then days_kept=$((days_kept + 1)); keep=yes; fi
    fi
    if [ "$week" != "$last_week" ]; then
      last_week="$week"
      if [ "$weeks_kept" -lt "$weekly" ]; then weeks_kept=$((weeks_kept + 1)); keep=yes; fi
    fi
    if [ "$keep" = no ]; then
      rm -rf "${history:?}/$name"
      say "dropped snapshot $name of $history"
    fi
  done
}

scheduled() {
  local root="$1" copy client volume status failed=0
  shift
  parse_options "$@"
  # Client names never start with a dot: the history itself (.montagu) is not a client.
  for copy in "$root"/*/*/; do
    [ -d "$copy" ] || continue
    copy="${copy%/}"
    volume="$(basename "$copy")"
    client="$(basename "$(dirname "$copy")")"
    local history="$root/.montagu/history/$client/$volume"
    status=0
    flock --nonblock --conflict-exit-code 75 --exclusive "$copy" bash "$0" locked-round "$copy" "$history" "$daily" "$weekly" "$settle" || status=$?
    case "$status" in
      0) ;;
      75) say "$client/$volume is in use by a transfer: left for the next round" ;;
      *) echo "history: keeping $client/$volume failed (exit $status)" >&2; failed=1 ;;
    esac
  done
  # Every other copy had its round; the schedule's status shows that one failed.
  return "$failed"
}

case "${1:-}" in
  snapshot) shift; snapshot "$@" ;;
  prune) shift; prune "$@" ;;
  scheduled) shift; scheduled "$@" ;;
  # Two statements, not `a && b`: bash would not stop at a failing command inside `a`.
  locked-round)
    snapshot "$2" "$3" --settle "$6"
    prune "$3" --daily "$4" --weekly "$5"
    ;;
  *) fail "usage: history.sh snapshot|prune|scheduled ..." ;;
esac
