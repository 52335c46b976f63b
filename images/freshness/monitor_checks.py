"""A check: every backup's state, the messages its changes call for, and the status files."""
import fcntl
import os
import time

from monitor_alerts import message, send_outbox
from monitor_history import load_history, recorded, save_history
from monitor_reads import last_success, read_nightly
from monitor_state import STATE_DIR, load_memory, save_memory, write_atomically
from monitor_status import state_word
from monitor_times import iso


def assess(config, memory, now):
    """Each backup's state now; the messages its changes call for go to the outbox."""
    results = []
    for backup in config["backups"]:
        remembered = memory["backups"].setdefault(backup["id"], {"first_looked": now, "told": "fresh"})
        error = size = None
        try:
            success, size = last_success(backup["read"])
        except (OSError, ValueError, KeyError) as problem:
            # What could not be read now (a store out of reach) is not a backup lost: the success
            # last seen still counts, and ages; read_ok says the look failed.
            success, error = remembered.get("last_success"), f"cannot read its last success: {problem}"
        if error is None and success is not None:
            remembered["last_success"] = success
        since = success if success is not None else remembered["first_looked"]
        age = max(0.0, now - since)
        stale = age > backup["staleAfterSeconds"]
        state = "stale" if stale else ("fresh" if success is not None else "waiting")
        results.append({"backup": backup, "success": success, "age": age, "stale": stale, "state": state, "error": error, "size": size})
        told = remembered["told"]
        if stale and told != "stale":
            memory["outbox"].append(message(config, backup, "STALE", success, age, now))
            remembered["told"] = "stale"
        elif not stale and told == "stale":
            memory["outbox"].append(message(config, backup, "RECOVERED", success, age, now))
            remembered["told"] = "fresh"
    return results


def status_text(config, result, now):
    backup = result["backup"]
    lines = [
        f"backup={backup['id']}",
        f"state={result['state']}",
        f"last_success={'' if result['success'] is None else iso(result['success'])}",
        f"age_seconds={int(result['age'])}",
        f"stale_after_seconds={backup['staleAfterSeconds']}",
        f"checked_at={iso(now)}",
    ]
    if result["error"]:
        lines.append(f"error={result['error']}")
    return "\n".join(lines) + "\n"


def check(config):
    # One check at a time (the loop, and an operator's `check`): each alert is told once.
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(os.path.join(STATE_DIR, ".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return checked_once(config)


def checked_once(config):
    now = time.time()
    memory = load_memory()
    results = assess(config, memory, now)
    save_memory(memory)
    send_error = send_outbox(config, memory)
    save_memory(memory)
    for result in results:
        write_atomically(os.path.join(STATE_DIR, "status", f"{result['backup']['id']}.status"), status_text(config, result, now))
    history = recorded(load_history(), config, [(r["backup"]["id"], state_word(r["stale"], r["error"], r["success"]), r["size"]) for r in results], now)
    save_history(history)
    snapshot = {"checked_at": now, "results": results, "outbox": len(memory["outbox"]), "send_error": send_error, "nightly": read_nightly(config.get("nightly")), "history": history}
    return snapshot
