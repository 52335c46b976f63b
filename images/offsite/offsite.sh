#!/usr/bin/env bash
# Off-site copies of clients' volumes: one restic repository per client and volume, at
# $OFFSITE_REPOSITORY/<client>/<volume> (s3:<endpoint>/<bucket>/<prefix>/volumes), encrypted
# with the password in $RESTIC_PASSWORD (or the file $RESTIC_PASSWORD_FILE); the store's keys
# in $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, or files in $OFFSITE_SECRETS_DIR.
#   montagu-offsite backup CLIENT VOLUME [--allow-empty]
#                      /volumes/VOLUME as a new snapshot of host CLIENT, then the retention
#                      ($OFFSITE_KEEP: restic's --keep-* options; snapshots forgotten)
#   montagu-offsite check CLIENT VOLUME SUBSET
#                      restic prune (the space of forgotten snapshots freed), then restic
#                      check, reading SUBSET of the data (such as 5%)
#   montagu-offsite snapshots CLIENT VOLUME    (restic's JSON, oldest first)
#   montagu-offsite restore CLIENT VOLUME SNAPSHOT [--allow-empty] [--check]
#                      SNAPSHOT (latest, or an id) into /target, as `rsync -a --delete` makes
#                      it, through /staging; with --check, only look that it can be
# One run per repository at a time (a lock in /state); a refusal exits 3, naming the volume and why.
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
export RESTIC_CACHE_DIR=/state/cache
source_path="/volumes/$volume"
OFFSITE_HOST="$client"

mkdir -p /state/locks /state/status
exec 9>"/state/locks/$client.$volume"
if ! flock --nonblock 9; then
  say "$volume: another run holds it; waiting"
  flock 9
fi

# restic tells a missing repository from a wrong password by exit code only from 0.17; 0.14
# says so in words.
ensure_repository() {
  local answer
  if answer="$(restic cat config 2>&1 >/dev/null)"; then return; fi
  if grep -qiE "is there a repository at the following location|does not exist|no such (file|key|bucket)|unable to open config file.*(not found|NoSuchKey)" <<<"$answer"; then
    say "$volume: new repository at $RESTIC_REPOSITORY"
    restic init >/dev/null
    return
  fi
  echo "offsite: $volume: the repository at $RESTIC_REPOSITORY cannot be opened:" >&2
  echo "$answer" >&2
  exit 1
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
    ensure_repository
    started="$(date +%s)"
    summary="/state/summary.$client.$volume.json"
    rm -f "$summary"
    # restic's progress, one line per 10% rather than ten a second; its summary kept.
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
' "$summary" "$volume"
    read -r snapshot added total < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["snapshot_id"][:8], s["data_added"], s["total_bytes_processed"])' "$summary")
    say "$volume: snapshot $snapshot, $((total / 1000000)) MB read, $((added / 1000000)) MB new, $(( $(date +%s) - started )) s"
    # Forgetting is cheap; pruning (which rewrites packs to free their space) waits for the weekly check.
    # shellcheck disable=SC2086 # OFFSITE_KEEP is restic's options, words by design
    restic forget --host "$OFFSITE_HOST" --path "$source_path" ${OFFSITE_KEEP:---keep-daily 7 --keep-weekly 4 --keep-monthly 6} --quiet
    printf 'time=%s\nsnapshot=%s\nbytes=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$snapshot" "$total" > "/state/status/$client.$volume.partial"
    mv "/state/status/$client.$volume.partial" "/state/status/$client.$volume.status"
    ;;
  check)
    subset="${1:-5%}"
    [[ "$subset" =~ ^[0-9]{1,2}(\.[0-9]+)?%$|^100%$ ]] || { echo "offsite: '$subset' is not a share such as 5%" >&2; exit 2; }
    ensure_repository
    # The space of snapshots forgotten since the last check freed first, then the whole checked.
    restic prune --quiet
    restic check --read-data-subset="$subset"
    say "$volume: pruned; check of the repository and $subset of its data passed"
    date -u +%Y-%m-%dT%H:%M:%SZ > "/state/status/$client.$volume.checked"
    ;;
  snapshots)
    restic snapshots --json --host "$OFFSITE_HOST" --path "$source_path"
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
