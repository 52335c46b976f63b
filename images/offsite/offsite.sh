#!/usr/bin/env bash
# Off-site copies of clients' volumes: one restic repository per client and volume, at
# $OFFSITE_REPOSITORY/<client>/<volume> (s3:<endpoint>/<bucket>/<prefix>/volumes), encrypted
# with the password in $RESTIC_PASSWORD (or the file $RESTIC_PASSWORD_FILE); the store's keys
# in $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, or files in $OFFSITE_SECRETS_DIR.
#   montagu-offsite backup CLIENT VOLUME [--allow-empty]
#                      /volumes/VOLUME as a new snapshot of host CLIENT: one restic command
#                      (the repository made first when there is none)
#   montagu-offsite check CLIENT VOLUME SUBSET
#                      the retention ($OFFSITE_KEEP: restic's --keep-* options; snapshots
#                      forgotten and their space freed), then restic check, reading SUBSET of
#                      the data (such as 5%)
#   montagu-offsite snapshots CLIENT VOLUME
#                      restic's JSON, oldest first ([] before the first copy); read-only:
#                      no lock, neither ours nor restic's, and no cache written
#   montagu-offsite restore CLIENT VOLUME SNAPSHOT [--allow-empty] [--check]
#                      SNAPSHOT (latest, or an id) into /target, as `rsync -a --delete` makes
#                      it, through /staging; with --check, only look that it can be
# One run per repository at a time (a lock in /state); a refusal exits 3, naming the volume and why.
# OFFSITE_STATE and OFFSITE_VOLUMES move /state and /volumes (for tests).
set -euo pipefail

say() { echo "offsite: $*"; }
refuse() { echo "offsite: refused: $*" >&2; exit 3; }

verb="${1:?usage: montagu-offsite backup|check|snapshots|restore CLIENT VOLUME ...}"
client="${2:?name the client}"
volume="${3:?name the volume}"
for name in "$client" "$volume"; do
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || { echo "offsite: '$name' is not a Docker name" >&2; exit 2; }
done
shift 3

: "${OFFSITE_REPOSITORY:?}"
secrets="${OFFSITE_SECRETS_DIR:-/run/montagu/secrets}"
[ -n "${RESTIC_PASSWORD:-}" ] || export RESTIC_PASSWORD_FILE="${RESTIC_PASSWORD_FILE:-$secrets/restic-password}"
[ -n "${AWS_ACCESS_KEY_ID:-}" ] || AWS_ACCESS_KEY_ID="$(cat "$secrets/s3-access-key-id")"
[ -n "${AWS_SECRET_ACCESS_KEY:-}" ] || AWS_SECRET_ACCESS_KEY="$(cat "$secrets/s3-secret-access-key")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export RESTIC_REPOSITORY="$OFFSITE_REPOSITORY/$client/$volume"
state="${OFFSITE_STATE:-/state}"
export RESTIC_CACHE_DIR="$state/cache"
source_path="${OFFSITE_VOLUMES:-/volumes}/$volume"
OFFSITE_HOST="$client"

# restic exits 10 for a repository that does not exist (from 0.17), and 12 for a wrong password.
NO_REPOSITORY=10

# What `montagu-backup list` reads: nothing written, here or in the bucket, and no wait behind
# a copy under way (restic's --no-lock: a listing needs no lock in the repository).
if [ "$verb" = snapshots ]; then
  status=0
  restic snapshots --no-lock --no-cache --json --host "$OFFSITE_HOST" --path "$source_path" || status=$?
  if [ "$status" = "$NO_REPOSITORY" ]; then echo "[]"; exit 0; fi
  exit "$status"
fi

mkdir -p "$state/locks" "$state/status"
exec 9>"$state/locks/$client.$volume"
if ! flock --nonblock 9; then
  say "$volume: another run holds it; waiting"
  flock 9
fi

# The repository, made when restic says it does not exist; one that exists but does not open (a
# wrong password) fails loudly and is never made again.
ensure_repository() {
  local answer status=0
  answer="$(restic cat config 2>&1 >/dev/null)" || status=$?
  case "$status" in
    0) ;;
    "$NO_REPOSITORY")
      say "$volume: new repository at $RESTIC_REPOSITORY"
      restic init >/dev/null ;;
    *)
      echo "offsite: $volume: the repository at $RESTIC_REPOSITORY cannot be opened:" >&2
      echo "$answer" >&2
      exit 1 ;;
  esac
}

# restic backup of the volume, its progress one line per 10% rather than ten a second and its
# summary kept in the file $1; restic's own exit status.
copy_once() {
  rm -f "$1"
  restic backup --host "$OFFSITE_HOST" --tag montagu --json "$source_path" |
    python3 -c '
import json, sys
shown = 0
for line in sys.stdin:
    event = json.loads(line)
    kind = event.get("message_type")
    if kind == "status" and event.get("percent_done", 0) * 100 >= shown + 10:
        shown = int(event["percent_done"] * 10) * 10
        print(f"offsite: {sys.argv[2]}: {shown}%", file=sys.stderr)
    elif kind == "summary":
        json.dump(event, open(sys.argv[1], "w"))
' "$1" "$volume"
  local statuses=("${PIPESTATUS[@]}")
  [ "${statuses[0]}" != 0 ] || return "${statuses[1]}"
  return "${statuses[0]}"
}

# The snapshot id that SNAPSHOT names for this volume, or nothing.
resolve() {
  restic snapshots --json --host "$OFFSITE_HOST" --path "$source_path" "$1" 2>/dev/null |
    python3 -c 'import json, sys; s = json.load(sys.stdin); print(s[-1]["short_id"] if s else "")'
}

case "$verb" in
  backup)
    allow_empty=no
    [ "${1:-}" != --allow-empty ] || allow_empty=yes
    [ -d "$source_path" ] || refuse "$volume is not mounted at $source_path"
    if [ -z "$(ls -A "$source_path")" ] && [ "$allow_empty" = no ]; then
      refuse "$volume is empty: an empty snapshot would become its latest off-site copy (set allowEmpty if that is really meant)"
    fi
    started="$(date +%s)"
    summary="$state/summary.$client.$volume.json"
    # One restic command: every restic command pays for opening the repository (its key derived
    # with scrypt, the index read), 0.66 s on the benchmark's rig, before it does anything, so an
    # unchanged volume's copy is mostly that. The repository is made only when restic says it
    # does not exist (a wrong password, 12, fails here and never makes another). A snapshot is
    # added even when nothing changed (`--skip-if-unchanged` is not used): its time is what the
    # freshness monitor reads as the copy's, and costs a few hundred bytes; the retention's
    # `forget` is the weekly check's, with its prune.
    status=0
    copy_once "$summary" || status=$?
    if [ "$status" = "$NO_REPOSITORY" ]; then
      say "$volume: new repository at $RESTIC_REPOSITORY"
      restic init >/dev/null
      status=0
      copy_once "$summary" || status=$?
    fi
    [ "$status" = 0 ] || { echo "offsite: $volume: restic backup failed (exit $status)" >&2; exit 1; }
    read -r snapshot added total < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["snapshot_id"][:8], s["data_added"], s["total_bytes_processed"])' "$summary")
    say "$volume: snapshot $snapshot, $((total / 1000000)) MB read, $((added / 1000000)) MB new, $(( $(date +%s) - started )) s"
    printf 'time=%s\nsnapshot=%s\nbytes=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$snapshot" "$total" > "$state/status/$client.$volume.partial"
    mv "$state/status/$client.$volume.partial" "$state/status/$client.$volume.status"
    ;;
  check)
    subset="${1:-5%}"
    [[ "$subset" =~ ^[0-9]{1,2}(\.[0-9]+)?%$|^100%$ ]] || { echo "offsite: '$subset' is not a share such as 5%" >&2; exit 2; }
    ensure_repository
    # The retention, and the space of what it forgets freed, in one command; then the whole checked.
    # shellcheck disable=SC2086 # OFFSITE_KEEP is restic's options, words by design
    restic forget --host "$OFFSITE_HOST" --path "$source_path" ${OFFSITE_KEEP:---keep-daily 7 --keep-weekly 4 --keep-monthly 6} --prune --quiet
    restic check --read-data-subset="$subset"
    say "$volume: retention applied; check of the repository and $subset of its data passed"
    date -u +%Y-%m-%dT%H:%M:%SZ > "$state/status/$client.$volume.checked"
    ;;
  restore)
    wanted="${1:?name the snapshot: latest or an id}"
    shift
    allow_empty=no check_only=no
    for option in "$@"; do
      case "$option" in
        --allow-empty) allow_empty=yes ;;
        --check) check_only=yes ;;
        *) echo "offsite: unknown option $option" >&2; exit 2 ;;
      esac
    done
    [[ "$wanted" =~ ^(latest|[0-9a-f]{8,64})$ ]] || { echo "offsite: '$wanted' is not a snapshot: latest or an id" >&2; exit 2; }
    if ! restic cat config >/dev/null 2>&1; then refuse "$volume has no off-site repository at $RESTIC_REPOSITORY that opens with this password"; fi
    snapshot="$(resolve "$wanted")"
    [ -n "$snapshot" ] || refuse "$volume's off-site repository holds no snapshot '$wanted' of $OFFSITE_HOST's $source_path"
    files="$(restic ls --json "$snapshot" | python3 -c '
import json, sys
count = 0
for line in sys.stdin:
    node = json.loads(line)
    if node.get("struct_type") == "node" and node.get("type") == "file":
        count += 1
print(count)')"
    if [ "$files" = 0 ] && [ "$allow_empty" = no ]; then
      refuse "snapshot $snapshot of $volume holds no file: restoring it would empty the volume (set allowEmpty if that is really meant)"
    fi
    say "$volume: snapshot $snapshot of $OFFSITE_HOST ($files files) can be restored"
    [ "$check_only" = no ] || exit 0
    if [ ! -d /target ] || [ ! -d /staging ]; then echo "offsite: restore needs /target and /staging mounted" >&2; exit 2; fi
    find /staging -mindepth 1 -delete
    restic restore "$snapshot" --target /staging --verify
    [ -d "/staging$source_path" ] || { echo "offsite: snapshot $snapshot did not restore $source_path" >&2; exit 1; }
    rsync -a --delete --checksum --info=stats1 "/staging$source_path/" /target/
    say "$volume: snapshot $snapshot restored"
    ;;
  *) echo "offsite: unknown verb $verb" >&2; exit 2 ;;
esac
