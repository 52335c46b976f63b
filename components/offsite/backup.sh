# The on-demand off-site copy: every volume now, in the running montagu-offsite container.
#   backup.sh CONTAINER [CLIENT VOLUME allow-empty|refuse-empty]...
set -euo pipefail
container="$1"
shift
while [ $# -gt 0 ]; do
  client="$1" volume="$2" empty="$3"
  shift 3
  options=()
  [ "$empty" != allow-empty ] || options+=(--allow-empty)
  echo "offsite: copying $client's $volume"
  docker exec "$container" montagu-offsite backup "$client" "$volume" "${options[@]+"${options[@]}"}"
done
