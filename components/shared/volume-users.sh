# shellcheck shell=bash
# Functions for every step that empties or overwrites a volume (a restore's stop.sh, packit's
# rebuild.sh, an import, a prepare's swap), defined before each: what config cannot know, the
# engine is asked at run time.

# The names, one a line, of the running containers that have VOLUME mounted.
volume_users() {
  docker ps --filter "volume=$1" --format '{{.Names}}'
}

# refuse_volume_in_use STEP VOLUME [CONTAINER...]: exits 3, naming them, when running
# containers use VOLUME, other than the CONTAINERs (those the step itself stops, or that share
# the volume under its lock). Nothing is changed.
refuse_volume_in_use() {
  local step="$1" volume="$2" listed name allowed
  shift 2
  local users=()
  # Apart from its declaration, so that a failure to ask the engine fails the step.
  listed="$(volume_users "$volume")"
  while read -r name; do
    [ -n "$name" ] || continue
    for allowed in "$@"; do [ "$name" = "$allowed" ] && continue 2; done
    users+=("'$name'")
  done <<<"$listed"
  if [ ${#users[@]} -gt 0 ]; then
    echo "$step: refused: running containers use volume $volume: ${users[*]}; this step does not stop them: stop them, and run the update again. $volume is left as it is" >&2
    exit 3
  fi
}
