#!/usr/bin/env bash
# start.sh SETTLE_SECONDS CONTAINER...: after a restore has copied its volumes, start
# CONTAINERs and make sure they come up: each must still be running SETTLE_SECONDS later
# without having restarted, and a container with a health check must report healthy. Safe
# to run again: starting a running container does nothing.
set -euo pipefail

say() { echo "restore: $*" >&2; }
settle="${1:?usage: start.sh SETTLE_SECONDS CONTAINER...}"
shift
containers=("$@")
HEALTH_TIMEOUT=300

state() { docker container inspect --format "$1" "$2" 2>/dev/null || echo absent; }

declare -A restarts
for container in "${containers[@]}"; do
  [ "$(state '{{.State.Status}}' "$container")" != absent ] || { say "cannot start $container: there is no such container"; exit 1; }
  docker start "$container" >/dev/null
  restarts[$container]="$(state '{{.RestartCount}}' "$container")"
  echo "restore: started $container"
done

[ ${#containers[@]} -eq 0 ] || sleep "$settle"
failed=0
for container in "${containers[@]}"; do
  running="$(state '{{.State.Running}} {{.State.Restarting}} {{.RestartCount}}' "$container")"
  if [ "$running" != "true false ${restarts[$container]}" ]; then
    say "$container did not stay up: $(state 'status {{.State.Status}}, exit code {{.State.ExitCode}}, restarted {{.RestartCount}} times' "$container"); its last lines:"
    docker logs --tail 20 "$container" 2>&1 | sed 's/^/  /' >&2 || true
    failed=1
    continue
  fi
  [ "$(state '{{if .State.Health}}yes{{end}}' "$container")" = yes ] || continue
  for _ in $(seq "$HEALTH_TIMEOUT"); do
    health="$(state '{{.State.Health.Status}}' "$container")"
    [ "$health" = starting ] || break
    sleep 1
  done
  if [ "$health" != healthy ]; then
    say "$container is up but its health check says '$health'; its last lines:"
    docker logs --tail 20 "$container" 2>&1 | sed 's/^/  /' >&2 || true
    failed=1
  else
    echo "restore: $container is healthy"
  fi
done
[ "$failed" -eq 0 ] || { say "the restored data is in place; fix what keeps the containers above from starting and start them (or run the update again)"; exit 1; }
