# shellcheck shell=bash
# Functions for the restore's steps (stop.sh, stopped.sh), defined before each.

# The names, one a line, of the CONTAINERs that are running; one that does not exist is not.
running_of() {
  local container
  for container in "$@"; do
    if [ "$(docker container inspect --format '{{.State.Running}}' "$container" 2>/dev/null || echo absent)" = true ]; then
      echo "$container"
    fi
  done
}
