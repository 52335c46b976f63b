#!/usr/bin/env bash
# remove-image.sh IMAGE: run when a stack is destroyed, after the containers that used IMAGE.
# It removes the image by its name (the same image under another name stays). An image that is
# gone already is fine; one that a container outside the stack still uses is kept, with a
# warning: the destroy of a stack never fails over an image.
set -euo pipefail
image="$1"

if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "image $image: not on this engine; nothing to remove"
  exit 0
fi
if output=$(docker image rm "$image" 2>&1); then
  echo "image $image: removed"
else
  echo "warning: image $image kept: $output" >&2
fi
