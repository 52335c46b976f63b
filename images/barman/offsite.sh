#!/usr/bin/env bash
# montagu-offsite-barman VERB: barman's WAL and base backups copied to an S3-compatible
# bucket with barman's cloud tools, at $BARMAN_OFFSITE_URL (s3://<bucket>/<prefix>/barman),
# server `montagu`, through $BARMAN_OFFSITE_ENDPOINT; the store's keys in files in
# $SECRETS_DIR (s3-access-key-id, s3-secret-access-key).
#   upload [--for SECONDS]
#               every WAL file barman has archived and every base backup it finished (DONE)
#               that the bucket does not hold yet, oldest first; a ledger in barman's data
#               volume says which went up, so a file that failed is tried again next time.
#               With --for, again every 10 s for that long (the schedule's minute, so that a
#               segment waits seconds rather than up to a minute to leave)
#   retention   barman-cloud-backup-delete with $BARMAN_OFFSITE_RETENTION (barman's own policy)
#   list        barman-cloud-backup-list's JSON of what the bucket holds, each backup's times
#               with their zone too (montagu-offsite-barman-list); read-only, no lock
#   recover DIR [--backup ID] [--target-time T]
#               the newest (or ID) base backup from the bucket into DIR (emptied first), with
#               the WAL from its start on in DIR/barman_wal, set to replay it and stop at T: a
#               copy as `barman recover` leaves one, which PostgreSQL replays on start
# Runs are one at a time (a lock); what an upload did goes to /metrics (UTC times) for
# barman-metrics and the freshness monitor.
set -euo pipefail

say() { echo "montagu-offsite-barman: $*" >&2; }
verb="${1:?usage: montagu-offsite-barman upload|retention|list|recover DIR [options]}"
shift
: "${BARMAN_OFFSITE_URL:?}" "${BARMAN_OFFSITE_ENDPOINT:?}"
SERVER=montagu
SECRETS_DIR="${SECRETS_DIR:-/run/montagu/secrets}"
[ -n "${AWS_ACCESS_KEY_ID:-}" ] || AWS_ACCESS_KEY_ID="$(cat "$SECRETS_DIR/s3-access-key-id")"
[ -n "${AWS_SECRET_ACCESS_KEY:-}" ] || AWS_SECRET_ACCESS_KEY="$(cat "$SECRETS_DIR/s3-secret-access-key")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
cloud=(--cloud-provider aws-s3 --endpoint-url "$BARMAN_OFFSITE_ENDPOINT")
# What `montagu-backup list` reads: before the lock (an upload under way neither waits for it
# nor holds it up) and before anything below writes.
if [ "$verb" = list ]; then
  exec montagu-offsite-barman-list "${cloud[@]}" --format json "$BARMAN_OFFSITE_URL" "$SERVER"
fi
home=/var/lib/barman
ledger_dir="$home/offsite"
mkdir -p "$ledger_dir"

exec 9>"$ledger_dir/lock"
flock 9

upload() {
  touch "$ledger_dir/wals" "$ledger_dir/backups"
  local sent=0 path name newest=""
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # What is archived and not yet sent, by name (C order on both sides, as join needs).
  find "$home/$SERVER/wals" -mindepth 2 -maxdepth 2 -type f -regextype posix-egrep \( -regex '.*/[0-9A-F]{24}' -o -name '*.history' \) -printf '%f\t%p\n' |
    LC_ALL=C sort > "$work/archived"
  LC_ALL=C sort -u "$ledger_dir/wals" > "$work/sent"
  # WAL first: a base backup is of use off-site only with the WAL from its start on.
  while IFS=$'\t' read -r name path; do
    barman-cloud-wal-archive "${cloud[@]}" "$BARMAN_OFFSITE_URL" "$SERVER" "$path"
    echo "$name" >> "$ledger_dir/wals"
    sent=$((sent + 1))
    newest="$name"
  done < <(LC_ALL=C join -t $'\t' -v 1 "$work/archived" "$work/sent")
  rm -rf "$work"
  if [ -n "$newest" ]; then
    say "$sent WAL file(s) sent, the newest $newest"
    date -u +%Y-%m-%dT%H:%M:%SZ > /metrics/offsite-wal-last-upload
    echo "$newest" > /metrics/offsite-wal-newest
  fi
  local id status
  while read -r id; do
    grep -qxF "$id" "$ledger_dir/backups" && continue
    status="$(sed -n 's/^status=//p' "$home/$SERVER/base/$id/backup.info" 2>/dev/null || true)"
    [ "$status" = DONE ] || continue
    say "sending base backup $id"
    # As barman runs it for a post-backup hook: the backup's own directory, never the database.
    BARMAN_HOOK=backup_script BARMAN_PHASE=post BARMAN_STATUS=DONE BARMAN_SERVER="$SERVER" \
      BARMAN_BACKUP_DIR="$home/$SERVER/base/$id" BARMAN_BACKUP_ID="$id" \
      barman-cloud-backup "${cloud[@]}" "$BARMAN_OFFSITE_URL" "$SERVER"
    echo "$id" >> "$ledger_dir/backups"
    date -u +%Y-%m-%dT%H:%M:%SZ > /metrics/offsite-backup-last-upload
    say "base backup $id sent"
  done < <(barman list-backups --minimal "$SERVER" | sort)
  rm -f /metrics/offsite-failed
}

case "$verb" in
  upload)
    # Called plainly, not as `upload || ...`, which would turn errexit off inside it and record
    # a file that failed as sent; a failure is remembered for the metrics on the way out.
    set -E
    trap 'date -u +%Y-%m-%dT%H:%M:%SZ > /metrics/offsite-failed' ERR
    for_seconds=0
    [ "${1:-}" != --for ] || for_seconds="${2:?--for takes seconds}"
    [[ "$for_seconds" =~ ^[0-9]{1,4}$ ]] || { say "'$for_seconds' is not a number of seconds"; exit 2; }
    until_time=$((SECONDS + for_seconds))
    upload
    while [ $((SECONDS + 10)) -le "$until_time" ]; do
      sleep 10
      upload
    done
    ;;
  retention)
    : "${BARMAN_OFFSITE_RETENTION:?}"
    barman-cloud-backup-delete "${cloud[@]}" --retention-policy "$BARMAN_OFFSITE_RETENTION" "$BARMAN_OFFSITE_URL" "$SERVER"
    say "retention '$BARMAN_OFFSITE_RETENTION' applied in $BARMAN_OFFSITE_URL"
    ;;
  recover)
    dir="${1:?name the directory}"
    shift
    backup=latest target=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --backup) backup="$2"; shift 2 ;;
        --target-time) target="$2"; shift 2 ;;
        *) say "unknown option $1"; exit 2 ;;
      esac
    done
    [ -d "$dir" ] || { say "$dir is not a directory"; exit 1; }
    [[ "$target" =~ ^[0-9T:.\ +Z-]*$ ]] || { say "'$target' is not a time"; exit 2; }
    [[ "$backup" =~ ^[A-Za-z0-9_-]+$ ]] || { say "'$backup' is not a backup id"; exit 2; }
    # barman-cloud-restore 3.4 takes an id only: latest and oldest are read from the bucket's list.
    read -r backup first < <(barman-cloud-backup-list "${cloud[@]}" --format json "$BARMAN_OFFSITE_URL" "$SERVER" | python3 -c '
import json, sys
wanted = sys.argv[1]
done = sorted((b for b in json.load(sys.stdin)["backups_list"] if b.get("status") == "DONE"), key=lambda b: b["backup_id"])
chosen = done[-1:] if wanted == "latest" else done[:1] if wanted == "oldest" else [b for b in done if b["backup_id"] == wanted]
print(*((chosen[0]["backup_id"], chosen[0]["begin_wal"]) if chosen else ()))' "$backup")
    [ -n "${first:-}" ] || { say "$BARMAN_OFFSITE_URL holds no finished backup '$backup' of $SERVER"; exit 1; }
    find "$dir" -mindepth 1 -delete
    barman-cloud-restore "${cloud[@]}" "$BARMAN_OFFSITE_URL" "$SERVER" "$backup" "$dir"
    # The WAL it replays, from the segment the backup began in on, fetched now into the copy as
    # `barman recover` leaves it: any database image replays it with cp, and never sees the keys.
    montagu-offsite-wals "$BARMAN_OFFSITE_URL" "$SERVER" "$first" "$dir/barman_wal"
    {
      echo "restore_command = 'cp barman_wal/%f %p'"
      if [ -n "$target" ]; then
        echo "recovery_target_time = '$target'"
        echo "recovery_target_action = 'promote'"
      fi
    } >> "$dir/postgresql.auto.conf"
    touch "$dir/recovery.signal"
    say "base backup $backup from $BARMAN_OFFSITE_URL in $dir${target:+, to stop at $target}"
    ;;
  *) say "unknown verb $verb"; exit 2 ;;
esac
