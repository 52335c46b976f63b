#!/usr/bin/env bash
# replay.sh SECONDS VOLUME MOUNT PGDATA IMAGE [DATABASE_ARG...]: replay the staging copy's WAL
# by starting the database IMAGE (with its DATABASE_ARGs) on it, VOLUME mounted at MOUNT and
# the copy at PGDATA below it, until its recovery has ended, then stop it cleanly. The
# volume's top holds the copy restores read until this one is finished: the database runs on
# the staging copy beside it, never on the volume's top. Safe to run again.
set -euo pipefail

timeout="$1" volume="$2" mount="$3" pgdata="$4" image="$5"
shift 5
container=barman-replay-wal

docker rm --force "$container" >/dev/null 2>&1 || true
trap 'docker rm --force "$container" >/dev/null 2>&1 || true' EXIT
fail() { echo "replay: $1" >&2; docker logs --tail 30 "$container" >&2; exit 1; }

echo "replay: starting the database on the staging copy in $volume to replay its WAL"
docker run --detach --name "$container" --volume "$volume:$mount" --env "PGDATA=$pgdata" "$image" "$@" >/dev/null
docker exec "$container" montagu-wait.sh "$timeout" || fail "the database did not accept connections"
# A server in hot standby accepts connections before its recovery ends; stopped then, the
# copy is not replayed, and if stopped while promoting it later replays past its recovery
# target. montagu-wait-recovery (images/postgres) waits the same way from inside; this runs
# outside, against any image, upstream's included.
deadline=$((SECONDS + timeout))
until answer="$(docker exec --user postgres "$container" psql --no-psqlrc -Atc 'SELECT pg_is_in_recovery()' 2>&1)" && [ "$answer" = f ]; do
  [ "$(docker inspect --format '{{.State.Running}}' "$container")" = true ] || fail "the database stopped before its recovery ended"
  [ "$SECONDS" -lt "$deadline" ] || fail "still in recovery after ${timeout}s: $answer"
  sleep 0.2
done
# Killed at docker's default 10 s, a large copy would be left mid-checkpoint: not shut down, so not ready.
docker stop --time "$timeout" "$container" >/dev/null
echo "replay: done; the copy starts without replaying anything"
