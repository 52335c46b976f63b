#!/usr/bin/env python3
"""montagu-dump: one verified, dated `pg_dump -Fc` of a database, and the thinning of its older ones.

  montagu-dump DIRECTORY DATABASE NAME HOST PORT USER KEEP_DAYS KEEP_WEEKS

writes DIRECTORY/<DATABASE>-<NAME>-<UTC time>.dump with its sha256 beside it
(<file>.sha256, as sha256sum writes it). The dump is written under a temporary name and read
back whole (`pg_restore --list`, then `pg_restore --file=/dev/null`: the list alone passes a
dump cut short) before it takes its name; only then are older dumps thinned to the newest of
each of the last KEEP_DAYS days and of each of the last KEEP_WEEKS ISO weeks (UTC), the newest
always kept. A dump that fails or does not read back fails the run and removes nothing.
One run at a time per directory: a second waits.
"""
import datetime
import fcntl
import hashlib
import os
import re
import subprocess
import sys

STAMP = "%Y%m%dT%H%M%SZ"


def dump_name(database, name, moment):
    return f"{database}-{name}-{moment.strftime(STAMP)}.dump"


def dated_dumps(directory, database, name):
    """The finished dumps of DATABASE from NAME in DIRECTORY, by time, oldest first: those with a checksum beside them."""
    pattern = re.compile(rf"^{re.escape(database)}-{re.escape(name)}-(\d{{8}}T\d{{6}}Z)\.dump$")
    found = []
    for entry in os.listdir(directory):
        match = pattern.match(entry)
        if match and os.path.exists(os.path.join(directory, f"{entry}.sha256")):
            moment = datetime.datetime.strptime(match.group(1), STAMP).replace(tzinfo=datetime.timezone.utc)
            found.append((moment, entry))
    return sorted(found)


def to_keep(moments, now, days, weeks):
    """The moments kept: the newest overall, and the newest of each of the last `days` days and `weeks` ISO weeks before `now`."""
    kept = set()
    if not moments:
        return kept
    kept.add(max(moments))
    today = now.date()
    newest_of_day, newest_of_week = {}, {}
    for moment in moments:
        day = moment.date()
        week = day.isocalendar()[:2]
        newest_of_day[day] = max(moment, newest_of_day.get(day, moment))
        newest_of_week[week] = max(moment, newest_of_week.get(week, moment))
    recent_days = {today - datetime.timedelta(days=n) for n in range(days)}
    this_week = today - datetime.timedelta(days=today.weekday())
    recent_weeks = {(this_week - datetime.timedelta(weeks=n)).isocalendar()[:2] for n in range(weeks)}
    kept.update(moment for day, moment in newest_of_day.items() if day in recent_days)
    kept.update(moment for week, moment in newest_of_week.items() if week in recent_weeks)
    return kept


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {(result.stderr or result.stdout).strip()[-500:]}")
    return result.stdout


def dump(directory, database, name, host, port, user, days, weeks):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    final = os.path.join(directory, dump_name(database, name, now))
    partial = os.path.join(directory, f".{os.path.basename(final)}.partial")
    print(f"montagu-dump: {database} on {host}:{port} to {final}", flush=True)
    try:
        run(["pg_dump", "--host", host, "--port", str(port), "--username", user, "--no-password", "--format", "custom", "--file", partial, "--dbname", database])
        entries = sum(1 for line in run(["pg_restore", "--list", partial]).splitlines() if line[:1].isdigit())
        run(["pg_restore", "--file", "/dev/null", partial])
    except Exception:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    checksum = sha256_of(partial)
    with open(f"{final}.sha256.partial", "w", encoding="utf-8") as out:
        out.write(f"{checksum}  {os.path.basename(final)}\n")
    os.replace(partial, final)
    # The checksum last: a dump counts once it is there, so it is never there for a dump that is not.
    os.replace(f"{final}.sha256.partial", f"{final}.sha256")
    print(f"montagu-dump: {os.path.basename(final)} reads back whole ({entries} entries, {os.path.getsize(final)} bytes, sha256 {checksum})", flush=True)

    found = dated_dumps(directory, database, name)
    kept = to_keep([moment for moment, _ in found], now, days, weeks)
    for moment, entry in found:
        if moment not in kept:
            os.remove(os.path.join(directory, f"{entry}.sha256"))
            os.remove(os.path.join(directory, entry))
            print(f"montagu-dump: removed {entry} (kept: the newest of each of {days} days and {weeks} weeks)", flush=True)
    print(f"montagu-dump: {len(kept)} dumps of {database} kept", flush=True)


def main(argv):
    if len(argv) != 9:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    directory, database, name, host, port, user, days, weeks = argv[1:]
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, ".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Under the lock no other run writes here: what a killed run left is only in the way,
        # a dump named but killed before its checksum was written included (it never counted).
        for entry in os.listdir(directory):
            mine = entry.startswith(f".{database}-{name}-") or entry.startswith(f"{database}-{name}-")
            unvouched = entry.endswith(".dump") and not os.path.exists(os.path.join(directory, f"{entry}.sha256"))
            if mine and (entry.endswith(".partial") or unvouched):
                os.remove(os.path.join(directory, entry))
        try:
            dump(directory, database, name, host, int(port), user, int(days), int(weeks))
        except Exception as problem:
            print(f"montagu-dump: {database}: no new dump, nothing removed: {problem}", file=sys.stderr, flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
