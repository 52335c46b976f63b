#!/usr/bin/env bash
# stopped.sh CONTAINER...: once a restore's copies are done and before anything is started,
# every container it stopped must still be stopped. One that runs again had the volumes open
# while they were copied: it may have changed them, or read a mix of two copies.
set -euo pipefail
# running_of: running.sh, defined before this file.

mapfile -t again < <(running_of "$@")
if [ ${#again[@]} -gt 0 ]; then
  echo "restore: refusing to start anything: ${again[*]} ran again while the volumes were restored, and may have changed them or read a mix of two copies; stop what restarts it, then run the restore again with a new id" >&2
  exit 1
fi
[ $# -eq 0 ] || echo "restore: $* stayed stopped while the volumes were restored"
