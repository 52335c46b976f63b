#!/usr/bin/env bash
# Containers on the inner engine use the bridge gateway as their DNS server; dnsmasq there
# forwards to the outer engine's resolver, which knows every simulated host's name.
set -euo pipefail
bridge_cidr="${RIG_BRIDGE_CIDR:-10.200.0.1/24}"
bridge_ip="${bridge_cidr%/*}"
mkdir -p /run/rig
dnsmasq --no-resolv --server=127.0.0.11 --no-hosts --cache-size=0 --keep-in-foreground &
exec dockerd \
  --host unix:///run/rig/docker.sock \
  --bip "$bridge_cidr" \
  --dns "$bridge_ip" \
  --storage-driver overlay2 \
  --log-level warn
