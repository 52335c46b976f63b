#!/usr/bin/env bash
# Makes the Debian base image that images/ build FROM available on the outer engine.
# Real users pull it; this workplace has no registry, so when the pull fails we build it
# with debootstrap from Debian's mirror and tag it under the same name.
set -euo pipefail

tag="${1:-debian:bookworm}"
suite="${tag#*:}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag: present"
  exit 0
fi
if timeout 120 docker pull "$tag" >/dev/null 2>&1; then
  echo "base image $tag: pulled"
  exit 0
fi

echo "base image $tag: no registry, building with debootstrap from $mirror"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null
# Keep the image lean the way Debian's official images do.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$tag" >/dev/null
echo "base image $tag: built"
