#!/usr/bin/env bash
# montagu-prepare STEP DIR [options]: the steps that make a restorable copy of the database
# in DIR (a volume's mount point, served as it is to restores), each safe to run again. The
# copy is made in DIR/.montagu/staging and takes the place of DIR's copy only once finished,
# so that a prepare that fails or is killed leaves the last finished copy where it was.
#   wipe                        empty the staging copy
#   recover [--backup ID] [--target-time T] [--jobs N] [--from-offsite]
#                               barman recover into the staging copy, emptied first; with
#                               --from-offsite, the backup and its WAL from the off-site bucket
#                               instead (montagu-offsite-barman recover), barman's own unused
#   replay [--timeout S]        start PostgreSQL on the staging copy until its recovery has
#                               ended, then stop
#   stamp                       check that the staging copy is finished (shut down cleanly, out
#                               of recovery), write its time to its .barman-last-restore, and
#                               put it in DIR's place (under DIR's lock, which restores share)
#   verify                      montagu-verify DIR (images/barman/verify.sh): prove DIR's
#                               finished copy restorable, for the metrics
#   nightly                     all of the above for DIR, recording success or failure for the metrics
# Messages go to stderr; stamp prints the copy's time alone on stdout.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# The steps lie beside this file where it really is: montagu-prepare is a link to it.
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
# shellcheck source=prepare-recover.sh
source "$here/prepare-recover.sh"
# shellcheck source=prepare-replay.sh
source "$here/prepare-replay.sh"
# shellcheck source=prepare-stamp.sh
source "$here/prepare-stamp.sh"
# shellcheck source=prepare-swap.sh
source "$here/prepare-swap.sh"

say() { echo "montagu-prepare: $*" >&2; }
step="${1:?usage: montagu-prepare STEP DIR [options]}"
dir="${2:?usage: montagu-prepare STEP DIR [options]}"
shift 2
[ -d "$dir" ] || { say "$dir is not a directory"; exit 1; }
VERIFY_FAILURE=/metrics/nightly-verify-failed
# The steps' settings, which their files (sourced above) read.
# shellcheck disable=SC2034
{
  STAMP=.barman-last-restore
  work="$dir/.montagu"
  staging="$work/staging"
  previous="$work/previous"
  pg=/usr/lib/postgresql/15/bin
  backup=latest
  target=""
  jobs="$(nproc)"
  timeout=3600
  from_offsite=no
  while [ $# -gt 0 ]; do
    case "$1" in
      --from-offsite) from_offsite=yes; shift ;;
      --backup) backup="$2"; shift 2 ;;
      --target-time) target="$2"; shift 2 ;;
      --jobs) jobs="$2"; shift 2 ;;
      --timeout) timeout="$2"; shift 2 ;;
      *) say "unknown option $1" >&2; exit 2 ;;
    esac
  done
}

case "$step" in
  wipe) wipe ;;
  recover) recover ;;
  replay) replay ;;
  stamp) stamp ;;
  swap) swap ;;
  verify) exec montagu-verify "$dir" --timeout "$timeout" ;;
  nightly)
    failure=/metrics/nightly-failed
    # Each step a process of its own: inside `a && b`, bash would not stop at a failing command.
    if "$0" wipe "$dir" && "$0" recover "$dir" && "$0" replay "$dir" && "$0" stamp "$dir" >/dev/null; then
      # Kept apart from the copy, so that a later failed night keeps this age.
      cp "$dir/.barman-last-restore" /metrics/nightly-last-success
      rm -f "$failure"
    else
      echo "nightly recovery into $dir failed at $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee "$failure" "$VERIFY_FAILURE" >&2
      exit 1
    fi
    # A night is good only once its copy is proven restorable.
    "$0" verify "$dir"
    ;;
  *) say "unknown step $step" >&2; exit 2 ;;
esac
