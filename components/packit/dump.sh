#!/usr/bin/env bash
# dump.sh CONTAINER USER DATABASE: packit's database as a `pg_dump -Fc` at /pgbackup/packit in
# CONTAINER, before its volume is pushed. The dump is written beside the last good one and
# read back whole (`pg_restore --list` reads only its table of contents, which a dump cut short
# still has) before it takes that one's place: a dump that fails or does not read back fails
# the update, and the last good dump stays, to be pushed as it is.
set -euo pipefail

container="$1" user="$2" database="$3"
partial=/pgbackup/packit.partial

echo "packit: dumping $database in $container to /pgbackup/packit"
docker exec "$container" pg_dump -U "$user" -Fc "$database" -f "$partial"
if ! entries="$(docker exec "$container" pg_restore --list "$partial" 2>&1)" ||
  ! read_back="$(docker exec "$container" pg_restore --file=/dev/null "$partial" 2>&1)"; then
  echo "packit: the new dump does not read back, so the last good one stays: $(printf '%s\n%s' "${entries:-}" "${read_back:-}" | tail -3)" >&2
  exit 1
fi
docker exec "$container" mv "$partial" /pgbackup/packit
echo "packit: the dump reads back whole ($(grep -c '^[0-9]' <<<"$entries") entries): $(docker exec "$container" ls -l /pgbackup/packit)"
