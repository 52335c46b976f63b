#!/usr/bin/env bash
# swap-guard.sh VOLUME CONTAINER...: before a prepare swaps its finished copy into VOLUME's
# place (its stamp step), refuse when a running container other than the CONTAINERs uses
# VOLUME: barman's, which swaps, and the privateer servers that serve VOLUME, which read it
# under the lock the swap takes. Anything else (a database someone started on the copy) would
# have its files moved under it.
set -euo pipefail
# refuse_volume_in_use: ../shared/volume-users.sh, defined before this file.
volume="${1:?usage: swap-guard.sh VOLUME CONTAINER...}"
shift
refuse_volume_in_use prepare "$volume" "$@"
