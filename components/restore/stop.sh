#!/usr/bin/env bash
# stop.sh SETTLE_SECONDS CONTAINER... -- VOLUME...: before a restore writes over VOLUMEs, stop
# CONTAINERs and make sure nothing else on this engine has a VOLUME open. Refuses before
# stopping anything when a running container that is not in the list uses a VOLUME (the
# restore would copy under it), and fails when a stopped container is running again
# SETTLE_SECONDS later (something restarts it: a supervisor, a restart loop; it waits only when
# it stopped a running container). stopped.sh looks again once the copies are done.
set -euo pipefail
# running_of: running.sh; volume_users: ../shared/volume-users.sh; each defined before this file.

say() { echo "restore: $*" >&2; }
settle="${1:?usage: stop.sh SETTLE_SECONDS CONTAINER... -- VOLUME...}"
shift
containers=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do containers+=("$1"); shift; done
[ $# -gt 0 ] || { say "stop.sh: no '--' before the volumes"; exit 2; }
shift
volumes=("$@")

listed() {
  local name="$1" container
  for container in "${containers[@]}"; do [ "$container" = "$name" ] && return 0; done
  return 1
}

# Every running container that has one of the volumes mounted, as `name volume`.
users_of_volumes() {
  local volume
  for volume in "${volumes[@]}"; do
    volume_users "$volume" | sed "s|\$| $volume|"
  done
}

unlisted=()
while read -r name volume; do
  [ -n "$name" ] || continue
  listed "$name" || unlisted+=("'$name' (uses $volume)")
done < <(users_of_volumes)
if [ ${#unlisted[@]} -gt 0 ]; then
  say "refusing to restore: running containers that this restore does not stop use its volumes: ${unlisted[*]}; add them to restore.stop, or stop them, and run the update again"
  exit 1
fi

# A container stopped already was kept running by nothing; one this restore stops may be.
mapfile -t were_running < <(running_of "${containers[@]}")
for container in "${containers[@]}"; do
  if docker container inspect "$container" >/dev/null 2>&1; then
    docker stop "$container" >/dev/null || { say "could not stop $container; nothing was copied"; exit 1; }
    echo "restore: stopped $container"
  else
    echo "restore: $container does not exist, nothing to stop"
  fi
done

# Stopped is not enough: it must stay stopped for as long as the copy takes, and a supervisor or
# a restart loop would start it again.
[ ${#were_running[@]} -eq 0 ] || sleep "$settle"
mapfile -t again < <(running_of "${containers[@]}")
if [ ${#again[@]} -gt 0 ]; then
  say "refusing to restore: ${again[*]} running again ${settle}s after being stopped (something restarts it); nothing was copied"
  exit 1
fi
