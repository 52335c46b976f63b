#!/usr/bin/env bash
# import.sh --every SECONDS FILE VOLUME IMAGE
# privateer's `import`, run where `pulumi up` runs: FILE, a tar made by export.sh on this
# machine, checked against FILE.sha256 first (`sha256sum -c`), then unpacked into VOLUME, a
# volume that must not exist yet on the stack's engine (privateer's rule: nothing is ever
# overwritten), made here, by a throwaway IMAGE container. If the tar does not unpack, the
# volume this import made is removed (it did not exist before: nothing is lost) and the step
# fails. Progress every SECONDS; totals at the end. On stdout, and nothing else:
#   volume=<VOLUME>
#   archive=<FILE>
#   sha256=<its checksum>
# A refusal (no checksum, a damaged file, an existing volume) exits 3 and changes nothing.
set -euo pipefail
# human, volume_exists: archive-lib.sh; refuse_volume_in_use: ../shared/volume-users.sh; each defined before this file.

say() { echo "import: $*" >&2; }
refuse() { echo "import: refused: $*" >&2; exit 3; }
usage="usage: import.sh --every SECONDS FILE VOLUME IMAGE"
if [ "${1:-}" != --every ] || [ $# -ne 5 ]; then say "$usage"; exit 2; fi
every="$2" file="$3" volume="$4" image="$5"
directory="$(dirname -- "$file")"
base="$(basename -- "$file")"
sums="$file.sha256"
LABEL=montagu.archive.import
TOKEN=montagu.archive.token

# The label's value, or nothing (Go's templates may say "<no value>" for a missing one).
label_of() { docker volume inspect --format "{{index .Labels \"$2\"}}" "$1" | sed 's/^<no value>$//'; }

[ -f "$file" ] || refuse "$file is not a file on this machine"
[ -f "$sums" ] || refuse "$sums is missing: an archive is imported only with the checksum its export wrote beside it"
# One line, naming this file: `sha256sum -c` checks whichever file its lines name.
line="$(cat -- "$sums")"
if [[ "$line" == *$'\n'* ]] || ! [[ "$line" =~ ^([0-9a-f]{64})\ [\ *](.*)$ ]] || [ "${BASH_REMATCH[2]}" != "$base" ]; then
  refuse "$sums is not one line '<sha256>  $base', the checksum of this file: it may belong to another archive"
fi
sum="${BASH_REMATCH[1]}"
size="$(wc -c <"$file")"
size="${size// /}"
say "checking $base ($(human "$size")) against $sums"
if ! (cd -- "$directory" && sha256sum --check --strict -- "$base.sha256" >&2); then
  refuse "$base does not match its checksum in $sums: it is damaged, or not the file its export wrote; nothing was imported"
fi

# A volume a running container uses exists, and is refused below too: this names who uses it.
refuse_volume_in_use import "$volume"
if volume_exists "$volume"; then
  from="$(label_of "$volume" "$LABEL" 2>/dev/null || true)"
  hint=""
  [ -z "$from" ] || hint=" (an import of $from made it; if that import did not finish, remove it with 'docker volume rm $volume')"
  refuse "volume $volume already exists on this engine$hint: an import makes a new volume, and never writes into one that exists; name another volume, or remove this one if nothing needs it"
fi

# The volume is this import's only if it carries this run's token: one made by something else
# between the look above and this (docker volume create says nothing of an existing volume) is
# left alone.
token="$(date -u +%Y%m%dT%H%M%SZ)-$$-$RANDOM"
docker volume create --label "$LABEL=$base" --label "$TOKEN=$token" "$volume" >/dev/null
if [ "$(label_of "$volume" "$TOKEN")" != "$token" ]; then
  refuse "volume $volume appeared while this import started, made by something else: it is left as it is, and nothing was imported"
fi
finished=no
reporter=""
unpacking=""
cleanup() {
  [ -z "$reporter" ] || kill "$reporter" 2>/dev/null || true
  [ "$finished" = no ] || return 0
  # Stopped while unpacking: docker passes the signal on to the container, and waits for it.
  if [ -n "$unpacking" ] && kill -0 "$unpacking" 2>/dev/null; then
    kill "$unpacking" 2>/dev/null || true
    wait "$unpacking" 2>/dev/null || true
  fi
  if docker volume rm "$volume" >/dev/null; then
    say "removed volume $volume, which this import had made (it did not exist before: nothing is lost)"
  else
    say "could not remove volume $volume, which this import made and which holds part of $base: remove it (docker volume rm $volume) before importing again"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say "unpacking $base into the new volume $volume"
started=$SECONDS
docker run --rm -i --label montagu.archive=import --network none --volume "$volume:/data" "$image" \
  tar --extract --file=- --directory=/data --numeric-owner --same-owner --same-permissions --totals <"$file" >&2 &
unpacking=$!
report() {
  local read_so_far
  # The sleep holds none of the step's output open (it outlives this loop by up to SECONDS):
  # the command provider reads the output until every holder has closed it.
  while sleep "$every" >/dev/null 2>&1; do
    # How far the docker client has read the file (Linux; elsewhere no progress is shown).
    read_so_far="$(awk '/^pos:/ { print $2 }' "/proc/$unpacking/fdinfo/0" 2>/dev/null)" || break
    [ -z "$read_so_far" ] || say "$base: $(human "$read_so_far") of $(human "$size") read ($((SECONDS - started)) s)"
  done
}
report &
reporter=$!
status=0
wait "$unpacking" || status=$?
kill "$reporter" 2>/dev/null || true
reporter=""
if [ "$status" -ne 0 ]; then
  say "$base did not unpack into $volume (exit $status)"
  exit 1
fi
finished=yes
say "$volume holds $base: $(human "$size") in $((SECONDS - started)) s, sha256 $sum"
printf 'volume=%s\narchive=%s\nsha256=%s\n' "$volume" "$file" "$sum"
