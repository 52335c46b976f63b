#!/usr/bin/env bash
# Makes the Debian base image that images/ build FROM available on the outer engine.
# Real users pull it; this workplace has no registry, so when the pull fails we build it
# with debootstrap from Debian's mirror and tag it under the same name.
set -euo pipefail

tag="${1:-debian:bookworm}"
suite="${tag#*:}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# The official image reads Debian's security updates too (rsync 3.5's rrsync, which the
# privateer server needs, comes from there); an image built here before it did is built again.
if docker image inspect "$tag" >/dev/null 2>&1; then
  if docker run --rm "$tag" grep -rqs -- "$suite-security" /etc/apt/; then
    echo "base image $tag: present"
    exit 0
  fi
  echo "base image $tag: present but without $suite-security; building it again"
  docker rmi -f "$tag" >/dev/null
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
# The official image's sources: the release, its updates and its security updates.
rm -f "$root"/etc/apt/sources.list
cat >"$root"/etc/apt/sources.list.d/debian.sources <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$tag" >/dev/null
echo "base image $tag: built"
