# shellcheck shell=bash
# Functions for the archive steps (export.sh, import.sh), defined before each; `say` is each step's own.

human() { numfmt --to=iec-i --suffix=B "$1" 2>/dev/null || echo "$1 bytes"; }

# 0 when VOLUME exists on the engine, 1 when it does not; fails when the engine cannot say.
volume_exists() {
  local said
  if said="$(docker volume inspect --format '{{.Name}}' "$1" 2>&1)"; then return 0; fi
  if grep -qi 'no such volume' <<<"$said"; then return 1; fi
  say "could not ask the engine about volume $1: $said"
  exit 1
}
