#!/usr/bin/env bash
# montagu-verify DIR [--timeout S]: prove DIR's finished copy (made by montagu-prepare) restorable:
# start it, ask it the verification query (/etc/montagu/verify/{database,query}), run
# pg_amcheck on a sample of its tables (verify/amcheck-tables), stop it cleanly; record the
# answer, its time and how long it took for the metrics, or flag the failure.
set -euo pipefail

say() { echo "montagu-prepare: $*" >&2; }
dir="${1:?usage: montagu-verify DIR [--timeout S]}"
shift
timeout=3600
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout="$2"; shift 2 ;;
    *) say "unknown option $1"; exit 2 ;;
  esac
done
[ -d "$dir" ] || { say "$dir is not a directory"; exit 1; }
STAMP=.barman-last-restore
VERIFY_DIR=/etc/montagu/verify
VERIFIED=/metrics/nightly-verified.json
VERIFY_FAILURE=/metrics/nightly-verify-failed
pg=/usr/lib/postgresql/15/bin
# psql's answer to one statement on the copy being verified.
ask() {
  runuser -u postgres -- "$pg/psql" --host=/tmp --port=5498 --dbname="$1" --no-psqlrc -v ON_ERROR_STOP=1 -At --command="$2"
}

# Up to N of the database's tables, chosen at random each night so that over the nights every
# one is checked, as psql patterns that match each name literally.
read -r -d '' SAMPLE_TABLES <<'SQL' || true
SELECT '"' || replace(n.nspname, '"', '""') || '"."' || replace(c.relname, '"', '""') || '"'
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
ORDER BY random() LIMIT
SQL

# pg_amcheck on a sample of the database's tables, their TOAST and their B-tree indexes. It
# needs the amcheck extension: installed for the check and dropped after, unless the database
# had it, so that the copy restores as it was. Prints how many tables were checked.
amcheck_sample() {
  local database="$1" sample="$2" had list tables=() patterns=() table status=0
  # Called as a condition, where set -e does not reach: each failure is returned by hand.
  had="$(ask "$database" "SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = 'amcheck'")" || return 1
  list="$(ask "$database" "$SAMPLE_TABLES $sample")" || return 1
  [ -n "$list" ] || { say "amcheck: $database has no table to check"; echo 0; return 0; }
  mapfile -t tables <<<"$list"
  for table in "${tables[@]}"; do patterns+=("--table=$table"); done
  timeout "$timeout" runuser -u postgres -- "$pg/pg_amcheck" --host=/tmp --port=5498 --database="$database" --install-missing "${patterns[@]}" >&2 || status=$?
  if [ "$had" != 1 ]; then ask "$database" "DROP EXTENSION IF EXISTS amcheck" >/dev/null || return 1; fi
  [ "$status" -eq 0 ] || { say "pg_amcheck found damage in the copy in $dir (exit $status): ${tables[*]}"; return 1; }
  say "amcheck: ${#tables[@]} of $database's tables, with their indexes, undamaged"
  echo "${#tables[@]}"
}

verify() {
  # The copy is finished: it starts at once, out of recovery. A copy that does not start, or
  # whose query fails, is not restorable, whatever its stamp says.
  local started database query answer seconds sample checked=0 held
  started="$(date +%s.%N)"
  [ -f "$dir/$STAMP" ] || { say "no finished copy in $dir to verify"; exit 1; }
  database="$(cat "$VERIFY_DIR/database")"
  query="$(cat "$VERIFY_DIR/query")"
  sample="$(cat "$VERIFY_DIR/amcheck-tables" 2>/dev/null || echo 0)"
  [[ "$sample" =~ ^[0-9]+$ ]] || { say "$VERIFY_DIR/amcheck-tables holds '$sample', not a number of tables"; exit 1; }
  # Starting the copy writes to it: restores, which read it under DIR's lock (shared), wait, and
  # it waits for them.
  exec {held}<"$dir"
  if ! flock --nonblock --exclusive "$held"; then
    say "a restore is reading $dir: the verification starts once it ends"
    flock --exclusive "$held"
  fi
  say "verifying the copy of $(cat "$dir/$STAMP") in $dir"
  runuser -u postgres -- "$pg/pg_ctl" --pgdata="$dir" --wait --timeout="$timeout" --silent \
    --options="-c listen_addresses='' -c unix_socket_directories=/tmp -c port=5498 -c ssl=off -c archive_mode=off -c shared_preload_libraries=''" \
    --log=/tmp/verify.log start || { tail -20 /tmp/verify.log >&2; say "the copy in $dir did not start"; exit 1; }
  if ! answer="$(ask "$database" "$query" 2>&1)"; then
    runuser -u postgres -- "$pg/pg_ctl" --pgdata="$dir" --wait --silent --mode=fast stop || true
    say "the verification query failed on the copy in $dir: $answer"
    exit 1
  fi
  if [ "$sample" -gt 0 ] && ! checked="$(amcheck_sample "$database" "$sample")"; then
    runuser -u postgres -- "$pg/pg_ctl" --pgdata="$dir" --wait --silent --mode=fast stop || true
    exit 1
  fi
  runuser -u postgres -- "$pg/pg_ctl" --pgdata="$dir" --wait --silent --mode=fast stop
  seconds="$(awk -v from="$started" -v to="$(date +%s.%N)" 'BEGIN { printf "%.3f", to - from }')"
  python3 - "$VERIFIED" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$seconds" "$answer" "$checked" <<'PY'
import json, os, sys, tempfile
path, time, seconds, answer, checked = sys.argv[1:]
handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".verified-")
with os.fdopen(handle, "w", encoding="utf-8") as out:
    json.dump({"time": time, "seconds": float(seconds), "answer": answer, "amcheck_tables": int(checked)}, out)
os.chmod(temporary, 0o644)
os.replace(temporary, path)
PY
  say "verified in ${seconds}s: $answer"
}

# Any failing command ends the script (set -e), and the flag says so.
trap 'status=$?; [ "$status" -eq 0 ] || echo "verification of $dir failed at $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee "$VERIFY_FAILURE" >&2' EXIT
verify
rm -f "$VERIFY_FAILURE"
