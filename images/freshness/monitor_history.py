"""Each backup's checks over the last days, kept in the monitor's volume for the status page's
strips and size plots: per backup and UTC day, how many checks found each state, and the size
of the copy at the day's last check that could tell it. Bounded: DAYS_KEPT days of the backups
the monitor watches now, whatever the check interval."""
import datetime
import json
import os

from monitor_state import STATE_DIR, write_atomically

DAYS_KEPT = 31
HISTORY = "history.json"


def day_of(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d")


def load_history():
    try:
        with open(os.path.join(STATE_DIR, HISTORY), encoding="utf-8") as handle:
            history = json.load(handle)
        if isinstance(history, dict) and isinstance(history.get("backups"), dict):
            return history
    except (OSError, ValueError):
        pass
    # A damaged history costs the strips their past, never a check.
    return {"backups": {}}


def recorded(history, config, states, now):
    """`history` with this check added: `states` is each backup's (id, state, size or None)."""
    today = day_of(now)
    oldest = day_of(now - (DAYS_KEPT - 1) * 86400)
    watched = {backup["id"] for backup in config["backups"]}
    kept = {}
    for backup_id, state, size in states:
        days = history["backups"].get(backup_id, {})
        days = {day: value for day, value in days.items() if oldest <= day <= today}
        entry = days.setdefault(today, {"checks": {}})
        entry["checks"][state] = entry["checks"].get(state, 0) + 1
        if size is not None:
            entry["size"] = size
        kept[backup_id] = days
    return {"backups": {backup_id: days for backup_id, days in kept.items() if backup_id in watched}}


def save_history(history):
    write_atomically(os.path.join(STATE_DIR, HISTORY), json.dumps(history, sort_keys=True, separators=(",", ":")))
