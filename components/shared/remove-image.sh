#!/usr/bin/env bash
# remove-image.sh ID NAME: removes the image ID, built as NAME, once it has left the stack: at
# the end of an update whose build of NAME made a new ID (after the containers that used ID were
# replaced), or when the stack is destroyed (after its containers). A container that still uses
# ID keeps it, with a warning: an update or a destroy never fails over an image. ID under a name
# other than NAME (the same image built for something else) stays, under that name.
set -euo pipefail
id="$1"
name="$2"

if ! tags=$(docker image inspect --format '{{join .RepoTags "\n"}}' "$id" 2>&1); then
  if grep -q "No such image" <<<"$tags"; then
    echo "image $name $id: not on this engine; nothing to remove"
    exit 0
  fi
  echo "image $name $id: could not be looked at: $tags" >&2
  exit 1
fi
others=$(grep -vxF "$name" <<<"$tags" || true)
# NAME is on ID only while no later build of NAME took it: then it is NAME that goes, which
# deletes ID with it unless another name holds it.
if grep -qxF "$name" <<<"$tags"; then
  target="$name"
elif [ -n "$others" ]; then
  echo "image $name $id: kept, as $(paste -sd ' ' <<<"$others")"
  exit 0
else
  target="$id"
fi
if ! output=$(docker image rm "$target" 2>&1); then
  users=$(docker ps --all --filter "ancestor=$id" --format '{{.Names}}' 2>/dev/null | paste -sd ' ' || true)
  echo "warning: image $name $id kept: ${users:+used by container(s) $users: }$output" >&2
elif [ -n "$others" ]; then
  echo "image $name $id: $name removed; the image stays as $(paste -sd ' ' <<<"$others")"
else
  echo "image $name $id: removed"
fi
