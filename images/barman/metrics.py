#!/usr/bin/env python3
"""barman's health as Prometheus metrics.

  barman-metrics collect   asks barman (check, list-backups, status) and saves the result;
                           exits non-zero when barman could not be asked
  barman-metrics serve     serves it on $BARMAN_METRICS_PORT (5000) at /metrics

Never stale: ages are computed when scraped, so they keep growing when collections stop; a
collection that fails, or none for STALE_AFTER seconds, reports barman_ok 0. The saved state
is replaced atomically, so a scrape never sees half a collection.
"""
import datetime
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import time

STATE = "/metrics/state.json"
CONNECTION_PROBLEM = "/metrics/connection-problem"
NIGHTLY_STAMP = "/metrics/nightly-last-success"
NIGHTLY_FAILURE = "/metrics/nightly-failed"
NIGHTLY_VERIFIED = "/metrics/nightly-verified.json"
NIGHTLY_VERIFY_FAILURE = "/metrics/nightly-verify-failed"
# What montagu-offsite-barman (images/barman/offsite.sh) leaves: UTC times, ISO 8601.
OFFSITE_WAL = "/metrics/offsite-wal-last-upload"
OFFSITE_BACKUP = "/metrics/offsite-backup-last-upload"
OFFSITE_FAILURE = "/metrics/offsite-failed"
SERVER = "montagu"
LABELS = f'database="{SERVER}"'
STALE_AFTER = float(os.environ.get("BARMAN_METRICS_STALE_AFTER", "900"))


def barman_json(*args):
    result = subprocess.run(["barman", "-f", "json", *args], capture_output=True, text=True, timeout=600)
    try:
        return json.loads(result.stdout)[SERVER]
    except (ValueError, KeyError) as error:
        raise RuntimeError(f"barman {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}") from error


def directory_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def load_state():
    try:
        with open(STATE, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def save_state(state):
    directory = os.path.dirname(STATE)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".state-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(state, out)
    os.chmod(temporary, 0o644)
    os.replace(temporary, STATE)


def collect():
    previous = load_state()
    state = {
        "collected_at": time.time(),
        "ok": 0,
        "metrics_ok": 0,
        "checks": {},
        # Kept from the last good collection, so that its age keeps growing.
        "last_backup": previous.get("last_backup"),
        "available_backups": previous.get("available_backups", 0),
    }
    try:
        checks = barman_json("check", SERVER)
        state["checks"] = {re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_"): int(value.get("status") == "OK") for key, value in checks.items()}
        backups = [b for b in barman_json("list-backups", SERVER) if b.get("status") == "DONE"]
        state["available_backups"] = len(backups)
        state["last_backup"] = max((int(b["end_time_timestamp"]) for b in backups), default=None)
        version = barman_json("status", SERVER).get("pg_version", {}).get("message", "")
        match = re.match(r"(\d+)(?:\.(\d+))?", version)
        if match:
            state["pg_version_major"] = int(match.group(1))
            state["pg_version_minor"] = int(match.group(2) or 0)
        state["data_size"] = directory_size(f"/var/lib/barman/{SERVER}")
        state["metrics_ok"] = 1
        state["ok"] = int(bool(state["checks"]) and all(state["checks"].values()) and not os.path.exists(CONNECTION_PROBLEM))
    except Exception as error:  # a failed collection is reported, never fatal
        print(f"barman-metrics: collection failed: {error}", file=sys.stderr)
    save_state(state)
    return state["metrics_ok"]


def render(state, now):
    lines = []

    def metric(name, value):
        lines.append(f"{name}{{{LABELS}}} {value}")

    collected_at = state.get("collected_at")
    fresh = collected_at is not None and now - collected_at <= STALE_AFTER
    metric("barman_running", 1)
    # A connection problem counts from the moment the entrypoint records it, not from the
    # next collection, which a slow `barman check` can hold back for seconds.
    metric("barman_ok", state.get("ok", 0) if fresh and not os.path.exists(CONNECTION_PROBLEM) else 0)
    for name, value in sorted(state.get("checks", {}).items()):
        metric(f"barman_check_{name}", value)
    metric("barman_metrics_ok", state.get("metrics_ok", 0) if fresh else 0)
    if collected_at is not None:
        metric("barman_time_since_last_collection_seconds", round(now - collected_at, 3))
    for key in ("data_size", "pg_version_major", "pg_version_minor"):
        name = "barman_data_size" if key == "data_size" else key
        if key in state:
            metric(name, state[key])
    metric("barman_available_backups", state.get("available_backups", 0))
    last_backup = state.get("last_backup")
    if last_backup is not None:
        since = now - last_backup
        metric("barman_time_of_last_backup", last_backup)
        metric("barman_time_since_last_backup_seconds", round(since, 3))
        metric("barman_time_since_last_backup_minutes", since / 60)
        metric("barman_time_since_last_backup_hours", since / 3600)
        metric("barman_time_since_last_backup_days", since / 86400)
    try:
        with open(NIGHTLY_STAMP, encoding="utf-8") as handle:
            restored = datetime.datetime.fromisoformat(handle.read().strip()).timestamp()
        metric("barman_time_since_last_nightly_recovery_seconds", round(now - restored, 3))
    except (OSError, ValueError):
        pass
    metric("barman_nightly_recovery_failed", int(os.path.exists(NIGHTLY_FAILURE)))
    try:
        with open(NIGHTLY_VERIFIED, encoding="utf-8") as handle:
            verified = json.load(handle)
        at = datetime.datetime.fromisoformat(verified["time"].replace("Z", "+00:00")).timestamp()
        metric("barman_nightly_verification_time", at)
        metric("barman_time_since_last_verified_nightly_seconds", round(now - at, 3))
        metric("barman_nightly_verification_seconds", verified["seconds"])
        metric("barman_nightly_verification_amcheck_tables", verified.get("amcheck_tables", 0))
        answer = str(verified["answer"])
        try:
            metric("barman_nightly_verification_value", float(answer))
        except ValueError:
            pass
        shown = answer[:200].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'barman_nightly_verification_answer{{{LABELS},answer="{shown}"}} 1')
    except (OSError, ValueError, KeyError, TypeError):
        pass
    metric("barman_nightly_verification_failed", int(os.path.exists(NIGHTLY_VERIFY_FAILURE)))
    if os.environ.get("BARMAN_OFFSITE_URL"):
        for name, path in (("wal", OFFSITE_WAL), ("backup", OFFSITE_BACKUP)):
            try:
                with open(path, encoding="utf-8") as handle:
                    at = datetime.datetime.fromisoformat(handle.read().strip().replace("Z", "+00:00")).timestamp()
                metric(f"barman_offsite_time_of_last_{name}_upload", at)
                metric(f"barman_offsite_time_since_last_{name}_upload_seconds", round(now - at, 3))
            except (OSError, ValueError):
                pass
        metric("barman_offsite_upload_failed", int(os.path.exists(OFFSITE_FAILURE)))
    return "\n".join(lines) + "\n"


def serve(port):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in ("/", "/metrics"):
                self.send_error(404)
                return
            body = render(load_state(), time.time()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


def main(argv):
    if argv[1:2] == ["collect"]:
        return 0 if collect() else 1
    if argv[1:2] == ["serve"]:
        serve(int(os.environ.get("BARMAN_METRICS_PORT", "5000")))
        return 0
    print("usage: barman-metrics collect | serve", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
