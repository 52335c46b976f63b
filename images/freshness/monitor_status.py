"""The last check as facts for programs (/status.json): what the status page shows, and what
the CLI's `status` reads. Ages and states are worked out when asked, as the metrics' are."""
from monitor_times import iso

# The words the page and programs use; the status files and metrics keep "stale".
LATE, FRESH, WAITING, UNREADABLE = "late", "fresh", "waiting", "unreadable"


def state_word(late, error, success):
    if late:
        return LATE
    # The record cannot be read, and the success last seen is still young: not late yet, but not known fresh.
    if error is not None:
        return UNREADABLE
    return FRESH if success is not None else WAITING


def when(seconds):
    return None if seconds is None else iso(seconds)


def backup_status(result, now, checked):
    backup = result["backup"]
    success = result["success"]
    # A backup never seen to succeed ages from when the monitor first looked, as at the check.
    since = success if success is not None else checked - result["age"]
    age = max(0.0, now - since)
    state = state_word(age > backup["staleAfterSeconds"], result["error"], success)
    interval = backup.get("intervalSeconds")
    return {
        "id": backup["id"],
        "description": backup["description"],
        "schedule": backup.get("schedule"),
        "state": state,
        "age_seconds": int(age),
        "stale_after_seconds": backup["staleAfterSeconds"],
        "last_success": when(success),
        "next_due": when(success + interval) if success is not None and interval is not None else None,
        "late_at": iso(since + backup["staleAfterSeconds"]),
        "error": result["error"],
        "size_bytes": result.get("size"),
        "offsite": None,
    }


def status(config, snapshot, now):
    checked = snapshot.get("checked_at")
    backups = [] if checked is None else [backup_status(result, now, checked) for result in snapshot["results"]]
    by_id = {entry["id"]: entry for entry in backups}
    successes = {result["backup"]["id"]: result["success"] for result in snapshot.get("results", [])}
    for result in snapshot.get("results", []):
        copied = result["backup"].get("offsiteOf")
        if copied not in by_id:
            continue
        # The off-site lag: how far the copy's last success is behind the last success of what it copies.
        original, copy = successes[copied], result["success"]
        lag = None if original is None or copy is None else int(max(0.0, original - copy))
        by_id[copied]["offsite"] = {"id": result["backup"]["id"], "last_success": when(copy), "lag_seconds": lag, "state": by_id[result["backup"]["id"]]["state"]}
    nightly = snapshot.get("nightly")
    if nightly is not None:
        verified = nightly["verified"]
        nightly = {
            "failed": nightly["failure"] is not None,
            "failure": nightly["failure"],
            "answer": None if verified is None else verified.get("answer"),
            "verified_at": None if verified is None or "time" not in verified else iso(verified["time"]),
            "error": None if verified is None else verified.get("error"),
        }
    counts = {word: sum(entry["state"] == word for entry in backups) for word in (LATE, UNREADABLE, WAITING, FRESH)}
    return {
        "name": config["name"],
        "now": iso(now),
        "checked_at": when(checked),
        "monitor_ok": checked is not None and now - checked <= 3 * config["checkEverySeconds"],
        "counts": counts,
        "backups": backups,
        "nightly_verification": nightly,
    }
