#!/usr/bin/env bash
# Starts PostgreSQL on $PGDATA, creating the cluster on first start. Roles and their
# passwords are (re)applied on every start from files in $SECRETS_DIR (one file per user),
# before the server listens on the network, so no client ever sees a half-configured server.
# An optional argument names a configuration file, as montagu-db takes one. As in montagu-db,
# `docker exec <container> psql -U <user>` works inside the container (local trust); over the
# network every user needs its password.
set -euo pipefail

SECRETS_DIR="${SECRETS_DIR:-/run/montagu/secrets}"
MONTAGU_DB_OWNER="${MONTAGU_DB_OWNER:-vimc}"
config_file="${1:-}"

as_postgres() { runuser -u postgres -- "$@"; }

mkdir -p "$PGDATA"
# A copy restored by barman or rsync may belong to another user id than this image's postgres.
if [ -e "$PGDATA/PG_VERSION" ] && [ "$(stat -c %U "$PGDATA/PG_VERSION")" != postgres ]; then
  echo "montagu-db: taking ownership of the restored copy in $PGDATA"
  chown -R postgres:postgres "$PGDATA"
fi
chown postgres:postgres "$PGDATA"
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "montagu-db: creating a new cluster in $PGDATA"
  as_postgres initdb --pgdata="$PGDATA" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local="${MONTAGU_DB_LOCAL_AUTH:-trust}" --auth-host=scram-sha-256 >/dev/null
  cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
CONF
  cat >>"$PGDATA/pg_hba.conf" <<HBA
host all all all scram-sha-256
host replication all all scram-sha-256
HBA
fi

sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

roles_sql() {
  cat <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'owner') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT 'CREATE ROLE barman LOGIN SUPERUSER' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'barman') \gexec
SELECT 'CREATE ROLE streaming_barman LOGIN REPLICATION' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'streaming_barman') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'dbname', :'owner') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') \gexec
SQL
  for user in "$MONTAGU_DB_OWNER" barman streaming_barman; do
    if [ -r "$SECRETS_DIR/$user" ]; then
      printf 'ALTER ROLE %s PASSWORD %s;\n' "$user" "$(sql_literal "$(cat "$SECRETS_DIR/$user")")"
    fi
  done
}

if [ -e "$PGDATA/standby.signal" ]; then
  # A standby never leaves recovery, and cannot take role changes: it keeps the roles it has.
  echo "montagu-db: $PGDATA is a standby; its roles are left as they are"
else
  as_postgres pg_ctl --pgdata="$PGDATA" --wait --timeout=3600 --silent \
    --options="-c listen_addresses='' ${config_file:+-c config_file=$config_file}" start
  # pg_ctl's wait ends at a restored copy's consistent point, not at the end of its recovery;
  # stopping it in between is what montagu-wait-recovery says is unsafe.
  as_postgres montagu-wait-recovery "$PGDATA" 3600
  roles_sql | as_postgres psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 -v dbname="$MONTAGU_DB_NAME" -v owner="$MONTAGU_DB_OWNER" >/dev/null
  as_postgres pg_ctl --pgdata="$PGDATA" --wait --silent stop
fi

settings=()
[ -z "$config_file" ] || settings+=(-c "config_file=$config_file")
[ -z "${MONTAGU_DB_SYNCHRONOUS_STANDBY_NAMES:-}" ] || settings+=(-c "synchronous_standby_names=$MONTAGU_DB_SYNCHRONOUS_STANDBY_NAMES")
# postgres itself is PID 1, so that `docker stop` reaches it and waits for its shutdown
# checkpoint. Under runuser, which forwards the signal and kills its child two seconds later,
# a server slower than that to stop (or with a client connected) was killed, not stopped.
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "${settings[@]}"
