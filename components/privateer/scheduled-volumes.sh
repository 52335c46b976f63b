#!/usr/bin/env bash
# scheduled-volumes.sh VOLUME...: run before a client's scheduler is made. Every volume it will
# push must be on this engine already: its mount would otherwise make the volume, empty, so that
# a name mistyped in the topology is "backed up" as nothing while the volume meant never is.
set -euo pipefail

present=$(docker volume ls --quiet)
missing=()
for volume in "$@"; do
  grep -qxF -- "$volume" <<<"$present" || missing+=("$volume")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "refusing to schedule pushes of volumes that are not on this engine: ${missing[*]}" >&2
  echo "the scheduler's mount would make each one, empty: create or restore them first, or correct the topology" >&2
  exit 1
fi
echo "every scheduled volume is on this engine: $*"
