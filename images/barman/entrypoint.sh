#!/usr/bin/env bash
# Configures barman for server `montagu` from BARMAN_MONTAGU_* settings (an unknown one is an
# error), waits until both database users can connect (saying which cannot), takes the first
# base backup when there is none, then runs the schedule in the foreground. The metrics
# endpoint is up from the first moment, reporting barman_ok 0 until all is well.
set -euo pipefail

say() { echo "barman-montagu: $*"; }

KNOWN="HOST PORT DBNAME USER_BACKUP USER_STREAM SLOT_NAME PASS_BACKUP PASS_STREAM RETENTION_POLICY"
for variable in ${!BARMAN_MONTAGU_@}; do
  key="${variable#BARMAN_MONTAGU_}"
  if [[ " $KNOWN " != *" $key "* ]]; then
    say "unknown setting $variable (known: $(printf 'BARMAN_MONTAGU_%s ' $KNOWN))" >&2
    exit 1
  fi
done

HOST="${BARMAN_MONTAGU_HOST:-db}"
PORT="${BARMAN_MONTAGU_PORT:-5432}"
DBNAME="${BARMAN_MONTAGU_DBNAME:-montagu}"
USER_BACKUP="${BARMAN_MONTAGU_USER_BACKUP:-barman}"
USER_STREAM="${BARMAN_MONTAGU_USER_STREAM:-streaming_barman}"
RETENTION_POLICY="${BARMAN_MONTAGU_RETENTION_POLICY:-RECOVERY WINDOW OF 3 MONTHS}"
SLOT_NAME="${BARMAN_MONTAGU_SLOT_NAME:-}"
if [ -z "$SLOT_NAME" ]; then
  say "BARMAN_MONTAGU_SLOT_NAME must be set: two barman instances on one slot lose data" >&2
  exit 1
fi
# Passwords come as files (never in the environment that docker inspect shows), or as settings.
SECRETS_DIR="${SECRETS_DIR:-/run/montagu/secrets}"
password() {
  local setting="$1" user="$2"
  if [ -n "${!setting:-}" ]; then printf '%s' "${!setting}"
  elif [ -r "$SECRETS_DIR/$user" ]; then cat "$SECRETS_DIR/$user"
  else say "no password for $user: set $setting or upload $SECRETS_DIR/$user" >&2; return 1
  fi
}
PASS_BACKUP="$(password BARMAN_MONTAGU_PASS_BACKUP "$USER_BACKUP")"
PASS_STREAM="$(password BARMAN_MONTAGU_PASS_STREAM "$USER_STREAM")"

cat >/etc/barman.conf <<CONF
[barman]
barman_home = /var/lib/barman
barman_user = root
log_file = /var/log/barman/barman.log
log_level = INFO
configuration_files_directory = /etc/barman.d

[montagu]
description = montagu
conninfo = host=$HOST port=$PORT user=$USER_BACKUP dbname=$DBNAME
streaming_conninfo = host=$HOST port=$PORT user=$USER_STREAM dbname=$DBNAME
backup_method = postgres
streaming_archiver = on
slot_name = $SLOT_NAME
create_slot = auto
retention_policy = $RETENTION_POLICY
CONF
mkdir -p /etc/barman.d

pgpass_field() { local v="${1//\\/\\\\}"; printf '%s' "${v//:/\\:}"; }
umask 077
{
  printf '%s:%s:*:%s:%s\n' "$(pgpass_field "$HOST")" "$PORT" "$(pgpass_field "$USER_BACKUP")" "$(pgpass_field "$PASS_BACKUP")"
  printf '%s:%s:*:%s:%s\n' "$(pgpass_field "$HOST")" "$PORT" "$(pgpass_field "$USER_STREAM")" "$(pgpass_field "$PASS_STREAM")"
} >"$HOME/.pgpass"
chmod 0600 "$HOME/.pgpass"
umask 022
unset PASS_BACKUP PASS_STREAM BARMAN_MONTAGU_PASS_BACKUP BARMAN_MONTAGU_PASS_STREAM

barman-metrics serve &

connection_problem() {
  local out
  if ! out=$(psql "host=$HOST port=$PORT user=$USER_BACKUP dbname=$DBNAME connect_timeout=10" -Atc 'SELECT 1' 2>&1); then
    echo "backup user '$USER_BACKUP' cannot connect to $HOST:$PORT/$DBNAME: ${out//$'\n'/ }"
    return 0
  fi
  if ! out=$(psql "host=$HOST port=$PORT user=$USER_STREAM dbname=$DBNAME replication=true connect_timeout=10" -Atc 'IDENTIFY_SYSTEM' 2>&1); then
    echo "replication user '$USER_STREAM' cannot connect to $HOST:$PORT: ${out//$'\n'/ }"
    return 0
  fi
  return 1
}

while problem=$(connection_problem); do
  # Before it is said: whoever reads the log and then the metrics finds barman_ok 0 already.
  echo "$problem" >/metrics/connection-problem
  say "$problem; retrying in ${RETRY_SECONDS:-15}s" >&2
  barman-metrics collect || true
  sleep "${RETRY_SECONDS:-15}"
done
rm -f /metrics/connection-problem
say "both database users connect to $HOST:$PORT"

barman cron
if [ "$(barman list-backups --minimal montagu | wc -l)" -eq 0 ]; then
  # The first WAL archive attempt is flaky until streaming has started: force a switch and retry.
  for attempt in 1 2 3 4 5; do
    if montagu-switch-wal 60; then break; fi
    say "WAL switch attempt $attempt failed; retrying" >&2
    barman cron
    sleep 5
  done
  say "taking the first base backup"
  barman backup --wait montagu
fi
barman-metrics collect || true

exec montagu-scheduler /etc/montagu/schedule.yml
