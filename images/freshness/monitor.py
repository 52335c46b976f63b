#!/usr/bin/env python3
"""Freshness of every backup kept on this machine, as Prometheus metrics, status files and alerts.

  montagu-freshness run      checks every backup every checkEverySeconds, serves /metrics
  montagu-freshness check    checks once, writes the status files, sends what is due, prints the states

Reads /etc/montagu/freshness.json (written by the stack): each backup's id, how to find its
last success, and how old that may be. Everything it reads is mounted read-only; what it
writes (what it has told, and the status files) is under /state.

A backup is late ("stale") once its last success is older than its threshold; one that has
never succeeded is late that long after the monitor first looked for it. One message when a
backup becomes late and one when it recovers: what was told is remembered in /state, so a
restart neither repeats an alert nor forgets one. A message that cannot be sent is tried
again at every check until it goes.
"""
import datetime
import email.message
import email.utils
import fcntl
import hashlib
import http.server
import json
import os
import re
import smtplib
import sys
import tempfile
import threading
import time

CONFIG = os.environ.get("FRESHNESS_CONFIG", "/etc/montagu/freshness.json")
STATE_DIR = os.environ.get("FRESHNESS_STATE", "/state")
SMTP_PASSWORD = "/run/montagu/secrets/smtp-password"
LABEL_VALUE = re.compile(r'["\\\n]')


def parse_time(text):
    """An ISO 8601 time (barman's `end_time=2026-11-27 10:00:00.12+00:00` included) as seconds; UTC when it has no zone."""
    moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def iso(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_timestamp_file(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_time(handle.read(200))
    except FileNotFoundError:
        return None


def read_barman_backups(path):
    """The end of barman's newest finished base backup: a failed or running one is no success."""
    newest = None
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return None
    for name in names:
        try:
            with open(os.path.join(path, name, "backup.info"), encoding="utf-8") as handle:
                info = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)
        except FileNotFoundError:
            continue
        if info.get("status") != "DONE" or info.get("end_time") in (None, "None"):
            continue
        ended = parse_time(info["end_time"])
        newest = ended if newest is None else max(newest, ended)
    return newest


def read_newest_file(paths):
    """When the newest file arrived under any of `paths`, looking only into each one's newest subfolder (barman's WAL folders hold thousands)."""
    newest = None

    def consider(seconds):
        nonlocal newest
        newest = seconds if newest is None else max(newest, seconds)

    for path in paths:
        try:
            entries = sorted(os.scandir(path), key=lambda entry: entry.name)
        except FileNotFoundError:
            continue
        folders = [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                consider(entry.stat(follow_symlinks=False).st_mtime)
        if folders:
            with os.scandir(folders[-1].path) as inner:
                for entry in inner:
                    if entry.is_file(follow_symlinks=False):
                        consider(entry.stat(follow_symlinks=False).st_mtime)
    return newest


DUMP_STAMP = re.compile(r"^(\d{8}T\d{6}Z)\.dump$")
# What each dump's sha256 was found to be, by (path, size, mtime): a dump is read whole once, not at every check.
VERIFIED = {}


def dump_matches_checksum(path):
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in VERIFIED:
        with open(f"{path}.sha256", encoding="utf-8") as handle:
            expected = handle.read().split()[0]
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        VERIFIED[key] = digest.hexdigest() == expected
    return VERIFIED[key]


def read_verified_dump(directory, prefix):
    """The time of the newest dump named `<prefix><UTC time>.dump` that its sha256 still vouches for: a dump cut short or damaged since is no success."""
    try:
        names = sorted((name for name in os.listdir(directory) if name.startswith(prefix) and DUMP_STAMP.match(name[len(prefix):])), reverse=True)
    except FileNotFoundError:
        return None
    for name in names:
        path = os.path.join(directory, name)
        try:
            if dump_matches_checksum(path):
                stamp = DUMP_STAMP.match(name[len(prefix):]).group(1)
                return datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        except (FileNotFoundError, IndexError):
            continue
    return None


S3_KEYS = "/run/montagu/secrets"


def read_newest_object(endpoint, region, bucket, prefix):
    """When the newest object under `prefix` in the bucket was stored: for a restic repository's
    snapshots/, the end of its newest copy (restic stores a snapshot last, and forget never
    removes the newest). The store's keys are files in S3_KEYS; boto3 is imported only here,
    so that a monitor that never reads a bucket starts without it."""
    import boto3
    import botocore.config
    import botocore.exceptions

    with open(os.path.join(S3_KEYS, "s3-access-key-id"), encoding="utf-8") as handle:
        key_id = handle.read().strip()
    with open(os.path.join(S3_KEYS, "s3-secret-access-key"), encoding="utf-8") as handle:
        secret = handle.read().strip()
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=botocore.config.Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 2}),
    )
    newest = None
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                stored = item["LastModified"].timestamp()
                newest = stored if newest is None else max(newest, stored)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as problem:
        raise OSError(f"s3 {bucket}/{prefix}: {problem}") from problem
    return newest


def last_success(read):
    if read["kind"] == "timestamp-file":
        return read_timestamp_file(read["path"])
    if read["kind"] == "barman-backups":
        return read_barman_backups(read["path"])
    if read["kind"] == "newest-file":
        return read_newest_file(read["paths"])
    if read["kind"] == "verified-dump":
        return read_verified_dump(read["directory"], read["prefix"])
    if read["kind"] == "newest-object":
        return read_newest_object(read["endpoint"], read["region"], read["bucket"], read["prefix"])
    raise ValueError(f"unknown reader {read['kind']}")


def write_atomically(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".partial-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def load_memory():
    try:
        with open(os.path.join(STATE_DIR, "memory.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {"backups": {}, "outbox": []}


def save_memory(memory):
    write_atomically(os.path.join(STATE_DIR, "memory.json"), json.dumps(memory, indent=1, sort_keys=True))


def assess(config, memory, now):
    """Each backup's state now; the messages its changes call for go to the outbox."""
    results = []
    for backup in config["backups"]:
        remembered = memory["backups"].setdefault(backup["id"], {"first_looked": now, "told": "fresh"})
        error = None
        try:
            success = last_success(backup["read"])
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
        results.append({"backup": backup, "success": success, "age": age, "stale": stale, "state": state, "error": error})
        told = remembered["told"]
        if stale and told != "stale":
            memory["outbox"].append(message(config, backup, "STALE", success, age, now))
            remembered["told"] = "stale"
        elif not stale and told == "stale":
            memory["outbox"].append(message(config, backup, "RECOVERED", success, age, now))
            remembered["told"] = "fresh"
    return results


def describe_age(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def message(config, backup, change, success, age, now):
    last = "never" if success is None else f"{iso(success)} ({describe_age(age)} ago)"
    subject = f"[{config['name']}] {change}: {backup['id']}"
    if change == "STALE":
        opening = f"{backup['description']} is late: no success for more than {describe_age(backup['staleAfterSeconds'])}."
    else:
        opening = f"{backup['description']} has succeeded again."
    lines = [
        opening,
        "",
        f"backup:        {backup['id']}",
        f"on:            {config['name']}",
        f"last success:  {last}",
        f"late after:    {describe_age(backup['staleAfterSeconds'])}" + (f" (schedule {backup['schedule']})" if backup.get("schedule") else ""),
        f"checked at:    {iso(now)}",
    ]
    return {"subject": subject, "body": "\n".join(lines) + "\n", "at": now}


def send_outbox(config, memory):
    """Sends what is waiting, oldest first; what fails stays for the next check."""
    settings = config.get("email")
    if settings is None:
        memory["outbox"] = []
        return None
    while memory["outbox"]:
        pending = memory["outbox"][0]
        mail = email.message.EmailMessage()
        mail["From"] = settings["from"]
        mail["To"] = ", ".join(settings["to"])
        mail["Subject"] = pending["subject"]
        mail["Date"] = email.utils.formatdate(pending["at"])
        mail["Message-ID"] = email.utils.make_msgid(domain="montagu-freshness")
        mail.set_content(pending["body"])
        try:
            with smtplib.SMTP(settings["host"], settings["port"], timeout=30) as smtp:
                if settings.get("starttls"):
                    smtp.starttls()
                if settings.get("username"):
                    with open(SMTP_PASSWORD, encoding="utf-8") as handle:
                        smtp.login(settings["username"], handle.read().strip())
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as problem:
            print(f"montagu-freshness: cannot send '{pending['subject']}' yet: {problem}", file=sys.stderr, flush=True)
            return str(problem)
        print(f"montagu-freshness: sent '{pending['subject']}'", flush=True)
        memory["outbox"].pop(0)
        save_memory(memory)
    return None


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
    snapshot = {"checked_at": now, "results": results, "outbox": len(memory["outbox"]), "send_error": send_error}
    return snapshot


def label(text):
    return LABEL_VALUE.sub(lambda m: {"\"": '\\"', "\\": "\\\\", "\n": "\\n"}[m.group(0)], text)


def render(config, snapshot, now):
    lines = []
    checked = snapshot.get("checked_at")
    # A monitor that stopped checking must not look healthy.
    lines.append(f"montagu_backup_monitor_ok {int(checked is not None and now - checked <= 3 * config['checkEverySeconds'])}")
    if checked is not None:
        lines.append(f"montagu_backup_monitor_time_since_last_check_seconds {round(now - checked, 3)}")
    lines.append(f"montagu_backup_alerts_unsent {snapshot.get('outbox', 0)}")
    for result in snapshot.get("results", []):
        backup = result["backup"]
        labels = f'backup="{label(backup["id"])}",name="{label(config["name"])}"'
        success = result["success"]
        age = (now - success) if success is not None else result["age"] + (now - checked)
        if success is not None:
            lines.append(f"montagu_backup_time_of_last_success{{{labels}}} {success}")
        lines.append(f"montagu_backup_time_since_last_success_seconds{{{labels}}} {round(age, 3)}")
        lines.append(f"montagu_backup_stale_after_seconds{{{labels}}} {backup['staleAfterSeconds']}")
        lines.append(f"montagu_backup_stale{{{labels}}} {int(age > backup['staleAfterSeconds'])}")
        lines.append(f"montagu_backup_read_ok{{{labels}}} {int(result['error'] is None)}")
    return "\n".join(lines) + "\n"


def run(config):
    latest = {}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in ("/", "/metrics"):
                self.send_error(404)
                return
            with lock:
                body = render(config, latest, time.time()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FRESHNESS_PORT", "5001"))), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"montagu-freshness: watching {len(config['backups'])} backups every {config['checkEverySeconds']} s", flush=True)
    while True:
        started = time.time()
        try:
            snapshot = check(config)
            with lock:
                latest.clear()
                latest.update(snapshot)
        except Exception as problem:  # a failed check shows as monitor_ok 0, never ends the monitor
            print(f"montagu-freshness: check failed: {problem}", file=sys.stderr, flush=True)
        time.sleep(max(1.0, config["checkEverySeconds"] - (time.time() - started)))


def main(argv):
    with open(CONFIG, encoding="utf-8") as handle:
        config = json.load(handle)
    if argv[1:2] == ["run"]:
        run(config)
        return 0
    if argv[1:2] == ["check"]:
        snapshot = check(config)
        for result in snapshot["results"]:
            print(f"{result['backup']['id']} {result['state']} {int(result['age'])}")
        return 0
    print("usage: montagu-freshness run | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
