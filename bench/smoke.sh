#!/usr/bin/env bash
# npm run bench:smoke [-- NAME...]: the benchmarks (or those named, as in bench:NAME) at their
# smoke size (BENCH_SMOKE=1), one after another, so that a change that breaks one fails CI
# rather than waiting for someone to run it. Each must exit 0 and print a RESULT line whose
# figures are numbers; how fast is not judged, the data being too small to say.
# bench:sync is not among the defaults: it is bench:barman's kill test alone, which
# bench:barman runs, and another two pairs of hosts to start would cost minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(privateer barman restore scale offsite)

say() { echo "[bench:smoke] $*"; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

summary=()
failed=0
for name in "${names[@]}"; do
  say "bench:$name"
  started=$SECONDS
  status=0
  # Every one runs even after one fails: a CI run then names each that is broken.
  BENCH_SMOKE=1 npm run "bench:$name" 2>&1 | tee "$work/$name.log" || status=$?
  took=$((SECONDS - started))
  result="$(grep '^RESULT ' "$work/$name.log" | tail -1 || true)"
  problem=""
  if [ "$status" -ne 0 ]; then
    problem="exited $status"
  elif [ -z "$result" ]; then
    problem="printed no RESULT line"
  elif grep -qE '=(NaN|undefined|-?Infinity)( |$)' <<<"$result"; then
    # A figure that is not a number is output no longer parsed: the benchmark has rotted.
    problem="a figure in its RESULT line is not a number"
  fi
  if [ -n "$problem" ]; then
    failed=1
    summary+=("bench:$name FAILED after ${took} s: $problem")
  else
    summary+=("bench:$name ok in ${took} s: $result")
  fi
done

say "summary"
printf '  %s\n' "${summary[@]}"
exit "$failed"
