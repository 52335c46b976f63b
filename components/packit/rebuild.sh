#!/usr/bin/env bash
# rebuild.sh IMAGE DUMP_VOLUME DATABASE_VOLUME USER DATABASE WAIT_SECONDS [ENV...]: packit's
# database rebuilt from its restored dump, as the runbook does it: check the dump, empty
# DATABASE_VOLUME, start IMAGE on it (with ENV, NAME=value each) and the dump read-only at
# /pgbackup, wait until it is up, `pg_restore --exit-on-error --no-owner`, stop it. Each
# step after the one before: a missing, unreadable or cut-short dump leaves the database as it is, and
# any failure fails the update before anything is started on it. Safe to run again.
set -euo pipefail
# refuse_volume_in_use: ../shared/volume-users.sh, defined before this file.

image="$1" dump_volume="$2" database_volume="$3" user="$4" database="$5" wait_seconds="$6"
shift 6
envs=()
for variable in "$@"; do envs+=(--env "$variable"); done
container=packit-db-restore

docker rm --force "$container" >/dev/null 2>&1 || true
# Refused before any work when something uses the database volume, and asked again just before
# it is emptied: reading the dump takes a while, and a container may have started meanwhile.
refuse_volume_in_use packit "$database_volume"
trap 'docker rm --force "$container" >/dev/null 2>&1 || true' EXIT

echo "packit: checking the dump in $dump_volume"
if ! listed="$(docker run --rm --volume "$dump_volume:/pgbackup:ro" --entrypoint pg_restore "$image" --list /pgbackup/packit 2>&1)"; then
  echo "packit: refused: volume $dump_volume holds no readable dump (/pgbackup/packit); $database_volume is left as it is: $(printf '%s' "$listed" | tail -3)" >&2
  exit 3
fi
# The list is the dump's table of contents, which a dump cut short still has: read it all.
if ! read_back="$(docker run --rm --volume "$dump_volume:/pgbackup:ro" --entrypoint pg_restore "$image" --file=/dev/null /pgbackup/packit 2>&1)"; then
  echo "packit: refused: the dump in $dump_volume does not read back whole; $database_volume is left as it is: $(printf '%s' "$read_back" | tail -3)" >&2
  exit 3
fi
echo "packit: the dump reads back whole ($(grep -c '^[0-9]' <<<"$listed") entries)"

refuse_volume_in_use packit "$database_volume"
echo "packit: emptying $database_volume"
docker run --rm --volume "$database_volume:/pgdata" --entrypoint find "$image" /pgdata -mindepth 1 -delete
echo "packit: starting an empty $database database"
docker run --detach --name "$container" --volume "$dump_volume:/pgbackup:ro" --volume "$database_volume:/pgdata" "${envs[@]}" "$image" >/dev/null
# The first server to answer on the socket may be the image's own, which sets the database up
# with no network address and is then stopped: a restore into it would be cut off. The
# server that stays listens on the network.
for waited in $(seq "$wait_seconds"); do
  listening="$(docker exec "$container" psql -U "$user" -d "$database" -Atc "SHOW listen_addresses" 2>/dev/null || true)"
  if [ -n "$listening" ]; then break; fi
  [ "$waited" -lt "$wait_seconds" ] || { echo "packit: the database did not start"; docker logs --tail 30 "$container"; exit 1; } >&2
  sleep 1
done
echo "packit: pg_restore into $database"
docker exec "$container" pg_restore --verbose --exit-on-error --no-owner -d "$database" -U "$user" /pgbackup/packit 2>&1
docker stop "$container" >/dev/null
echo "packit: restored"
