#!/usr/bin/env bash
# export.sh --every SECONDS DIRECTORY NAME IMAGE volume VOLUME [OPTION...]
# export.sh --every SECONDS DIRECTORY NAME IMAGE copy DATA_VOLUME LOCK DIR [OPTION...]
# privateer's `export`, run where `pulumi up` runs: a tar of a volume on the stack's engine
# (mounted read-only at /data), or of DIR on a privateer server's DATA_VOLUME (a client's copy,
# or a snapshot of it in the server's history), streamed out of a throwaway IMAGE container to
# DIRECTORY/NAME-<UTC time>.tar on this machine, with NAME-<time>.tar.sha256 beside it (what
# `sha256sum -c` reads). The tar is written as .tar.partial and renamed only once whole and
# checksummed, after its checksum file: a killed export leaves a .partial, never a file that
# looks finished. Progress every SECONDS; totals at the end. On stdout, and nothing else:
#   archive=<path of the tar>
#   sha256=<its checksum>
# OPTIONs are the container's (tar_under_lock below):
#   --unfinished MARKER    refuse the copy while MARKER exists: its last push did not finish
#   --newest-in HISTORY    export the newest snapshot in HISTORY instead of DIR
#   --require-stamp NAME   a prepared copy: refused unless NAME is at its top (it is finished)
#   --exclude-top NAME     leave NAME, at the top of the volume, out (the prepare's own work)
# A refusal (a missing, empty, unfinished or unstamped source) exits 3 and leaves nothing.
set -euo pipefail
# human, volume_exists: archive-lib.sh, defined before this file.

say() { echo "export: $*" >&2; }
refuse() { echo "export: refused: $*" >&2; exit 3; }
usage="usage: export.sh --every SECONDS DIRECTORY NAME IMAGE volume VOLUME [OPTION...] | copy DATA_VOLUME LOCK DIR [OPTION...]"
[ "${1:-}" = --every ] || { say "$usage"; exit 2; }
every="$2"
shift 2
[ $# -ge 5 ] || { say "$usage"; exit 2; }
directory="$1" name="$2" image="$3" mode="$4"
shift 4

# Runs in the export's container: a tar of DIR on stdout, read under a shared flock(1) on the
# directory LOCK, as restores take it (a push or the server's history takes it exclusive, a
# prepare to swap its copy in), so that nothing rewrites what is read. Messages on stderr.
tar_under_lock() {
  local lock="$1" dir="$2" unfinished="" stamp="" exclude="" newest_in="" newest counts entries bytes
  shift 2
  say() { echo "export: $*" >&2; }
  refuse() { echo "export: refused: $*" >&2; exit 3; }
  while [ $# -gt 0 ]; do
    case "$1" in
      --unfinished) unfinished="$2" ;;
      --newest-in) newest_in="$2" ;;
      --require-stamp) stamp="$2" ;;
      --exclude-top) exclude="$2" ;;
      *) say "unknown option $1"; exit 2 ;;
    esac
    shift 2
  done
  [ -d "$lock" ] || refuse "$lock does not exist: there is nothing to export"
  exec 9<"$lock"
  if ! flock --shared --nonblock 9; then
    say "a transfer is writing $lock; waiting for it to end"
    flock --shared 9
  fi
  if [ -n "$unfinished" ] && [ -e "$unfinished" ]; then
    refuse "the last push into $dir, started at $(cat "$unfinished"), did not finish: the copy holds part of it. Push again, or export 'snapshot: latest', the copy as it was before that push"
  fi
  if [ -n "$newest_in" ]; then
    newest="$(find "$newest_in" -mindepth 1 -maxdepth 1 -type d -regextype posix-egrep -regex '.*/[0-9]{8}T[0-9]{6}Z' -printf '%f\n' 2>/dev/null | sort | tail -1)"
    [ -n "$newest" ] || refuse "there is no snapshot in $newest_in"
    dir="$newest_in/$newest"
    say "the newest snapshot is $newest"
  fi
  [ -d "$dir" ] || refuse "$dir does not exist"
  if [ -n "$stamp" ] && [ ! -f "$dir/$stamp" ]; then
    refuse "$dir holds no finished copy ($stamp is missing: no prepare has finished into it); prepare one, then export"
  fi
  local prune=() excluded=()
  if [ -n "$exclude" ]; then
    prune=(-path "$dir/$exclude" -prune -o)
    excluded=(--anchored "--exclude=./$exclude")
  fi
  counts="$(find "$dir" -mindepth 1 "${prune[@]}" -printf '%y %s\n' | awk '{ n++; if ($1 != "d") s += $2 } END { printf "%d %.0f\n", n, s }')"
  read -r entries bytes <<<"$counts"
  [ "$entries" -gt 0 ] || refuse "$dir is empty: its archive would hold nothing"
  say "$dir: $entries entries, $bytes bytes in files"
  tar --create --file=- --directory="$dir" --numeric-owner --totals "${excluded[@]}" .
}

run=(docker run --rm --label montagu.archive=export --network none)
program="$(declare -f tar_under_lock); tar_under_lock \"\$@\""
case "$mode" in
  volume)
    volume="${1:?$usage}"
    shift
    # docker run would make a missing volume, empty: say so instead.
    volume_exists "$volume" || refuse "volume $volume does not exist on this engine"
    what="volume $volume"
    run+=(--volume "$volume:/data:ro" "$image" bash -c "$program" export /data /data "$@")
    ;;
  copy)
    [ $# -ge 3 ] || { say "$usage"; exit 2; }
    data="$1" lock="$2" dir="$3"
    shift 3
    volume_exists "$data" || refuse "the server's data volume $data does not exist on this engine"
    what="$dir on $data"
    run+=(--volume "$data:/privateer/volumes:ro" "$image" bash -c "$program" export "$lock" "$dir" "$@")
    ;;
  *) say "$usage"; exit 2 ;;
esac

# Never made: a directory on a disk that is not mounted is missing, and making it would put
# the archive on the disk beneath.
[ -d "$directory" ] || refuse "$directory is not a directory on this machine (create it, or mount the disk it is on)"
[ -w "$directory" ] || refuse "$directory is not writable by $(id -un) on this machine"
prefix="${directory%/}/"
while :; do
  base="$name-$(date -u +%Y%m%dT%H%M%SZ).tar"
  [ -e "$prefix$base" ] || [ -e "$prefix$base.partial" ] || [ -e "$prefix$base.sha256" ] || break
  sleep 1
done
partial="$prefix$base.partial"
(set -o noclobber && : >"$partial") || refuse "could not create $partial"

say "$what into $partial"
started=$SECONDS
reporter=""
report() {
  # The sleep holds none of the step's output open (it outlives this loop by up to SECONDS):
  # the command provider reads the output until every holder has closed it.
  while sleep "$every" >/dev/null 2>&1; do
    say "$base: $(human "$(wc -c <"$partial" 2>/dev/null || echo 0)") so far ($((SECONDS - started)) s)"
  done
}
report &
reporter=$!
trap '[ -z "$reporter" ] || kill "$reporter" 2>/dev/null || true' EXIT

status=0
sum="$("${run[@]}" | tee "$partial" | sha256sum)" || status=$?
kill "$reporter" 2>/dev/null || true
reporter=""
if [ "$status" -eq 3 ]; then
  # Refused before the tar began: nothing was written.
  rm -f "$partial"
  exit 3
elif [ "$status" -ne 0 ]; then
  say "failed (exit $status): $partial holds part of the tar and is no archive (delete it); nothing else was written"
  exit 1
fi
sum="${sum%% *}"
size="$(wc -c <"$partial")"
size="${size// /}"

printf '%s  %s\n' "$sum" "$base" >"$prefix$base.sha256.partial"
sync "$partial" "$prefix$base.sha256.partial" 2>/dev/null || sync
# The checksum first: until the tar takes its name, nothing looks finished.
mv "$prefix$base.sha256.partial" "$prefix$base.sha256"
mv "$partial" "$prefix$base"
sync "$directory" 2>/dev/null || true
elapsed=$((SECONDS - started))
say "$prefix$base: $(human "$size") ($size bytes) in ${elapsed} s, sha256 $sum; checksum in $base.sha256"
printf 'archive=%s\nsha256=%s\n' "$prefix$base" "$sum"
