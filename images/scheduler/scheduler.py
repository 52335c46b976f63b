#!/usr/bin/env python3
"""Runs a privateer schedule file (yacron.yml).

Understands what privateer writes: `defaults.timezone`, `web.listen`, and jobs with `name`,
`command` and `schedule` (five cron fields or an @nickname). Any other key is refused by
name at start, so a schedule is never half-understood. Like yacron, it serves its status over
HTTP when `web.listen` is given: GET /status, GET /version, POST /jobs/<name>/start.
"""
import datetime
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import zoneinfo
from urllib.parse import urlparse

import yaml
from croniter import croniter

VERSION = "privateer-scheduler 1"
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


# privateer's scheduled push, as its yacron.yml has it.
PRIVATEER_PUSH = re.compile(
    r"^rsync -av --delete /privateer/volumes/(?P<volume>[A-Za-z0-9][A-Za-z0-9_.-]*)"
    r" (?P<server>[A-Za-z0-9][A-Za-z0-9_.-]*):/privateer/volumes/(?P<client>[A-Za-z0-9][A-Za-z0-9_.-]*)$"
)
LOCK_LIBRARY = "/usr/local/lib/privateer/lock.sh"
# Under the server's lock on the copy, as every transfer of ours takes it, so that an on-demand
# push or a restore of the same copy waits rather than interleaves; never of an empty volume,
# which would empty the server's copy; with the copy it replaces kept in the server's history
# first, and the copy marked unfinished on the server until the push ends, as an on-demand
# push does.
LOCKED_PUSH = """set -euo pipefail
source "$0"
[ -n "$(ls -A "/privateer/volumes/$1")" ] || { echo "refused: volume $1 is empty: pushing it would empty its copy on $2" >&2; exit 3; }
hold_lock "$2" "/privateer/volumes/$3/$1" exclusive
ssh "$2" "montagu snapshot /privateer/volumes/$3/$1"
ssh "$2" "montagu pushing /privateer/volumes/$3/$1"
/bin/sh -c "$4"
# Also keeps the push from being the script's last command, which bash would exec in its
# place, closing the lock's pipe.
ssh "$2" "montagu pushed /privateer/volumes/$3/$1"
"""


def job_command(command):
    """What runs a job: privateer's push under the lock, when this image has it; anything else as it is."""
    push = PRIVATEER_PUSH.match(command.strip())
    if push is None or not os.path.exists(LOCK_LIBRARY):
        return ["/bin/sh", "-c", command]
    return ["bash", "-c", LOCKED_PUSH, LOCK_LIBRARY, push["volume"], push["server"], push["client"], command]


class ScheduleError(Exception):
    pass


def refuse_unknown(where, mapping, known):
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise ScheduleError(f"{where}: unsupported key(s) {', '.join(unknown)}")


class Job:
    def __init__(self, name, command, expression, zone):
        self.name = name
        self.command = command
        self.expression = expression
        self.zone = zone
        self.lock = threading.Lock()
        self.running = False
        self.last_start = None
        self.last_exit = None
        self.runs = 0
        self.next_run = self.following(datetime.datetime.now(zone))

    def following(self, moment):
        return croniter(self.expression, moment).get_next(datetime.datetime)

    def start(self):
        with self.lock:
            if self.running:
                log(f"[{self.name}] still running; this run is skipped")
                return False
            self.running = True
        threading.Thread(target=self.run, daemon=True).start()
        return True

    def run(self):
        self.last_start = datetime.datetime.now(self.zone)
        log(f"[{self.name}] starting: {self.command}")
        process = subprocess.Popen(job_command(self.command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            log(f"[{self.name}] {line.rstrip()}")
        code = process.wait()
        with self.lock:
            self.running = False
            self.last_exit = code
            self.runs += 1
        log(f"[{self.name}] {'succeeded' if code == 0 else f'FAILED with exit code {code}'}")

    def status(self):
        if self.running:
            state = "running"
        elif self.last_exit is None:
            state = "scheduled"
        else:
            state = "succeeded" if self.last_exit == 0 else "failed"
        return {
            "job": self.name,
            "status": state,
            "schedule": self.expression,
            "runs": self.runs,
            "last_exit_code": self.last_exit,
            "last_start": self.last_start.isoformat() if self.last_start else None,
            "next_run": self.next_run.isoformat(),
        }


def log(message):
    print(f"{datetime.datetime.now().isoformat(timespec='seconds')} {message}", flush=True)


def load(path):
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    refuse_unknown(path, document, ["defaults", "web", "jobs"])
    defaults = document.get("defaults") or {}
    refuse_unknown("defaults", defaults, ["timezone"])
    try:
        zone = zoneinfo.ZoneInfo(defaults.get("timezone", "UTC"))
    except zoneinfo.ZoneInfoNotFoundError as error:
        raise ScheduleError(f"defaults.timezone: unknown time zone {defaults.get('timezone')!r}") from error
    web = document.get("web") or {}
    refuse_unknown("web", web, ["listen"])
    jobs = []
    for index, entry in enumerate(document.get("jobs") or []):
        where = f"jobs[{index}]"
        refuse_unknown(where, entry, ["name", "command", "schedule"])
        for key in ("name", "command", "schedule"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ScheduleError(f"{where}.{key}: required")
        expression = NICKNAMES.get(entry["schedule"].strip(), entry["schedule"].strip())
        if len(expression.split()) != 5 or not croniter.is_valid(expression):
            raise ScheduleError(f"{where}.schedule: not a schedule: {entry['schedule']!r}")
        jobs.append(Job(entry["name"], entry["command"], expression, zone))
    return zone, web.get("listen") or [], jobs


def serve(listen, jobs):
    by_name = {job.name: job for job in jobs}

    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, code, body):
            payload = json.dumps(body, indent=2).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            if self.path == "/status":
                self.reply(200, [job.status() for job in jobs])
            elif self.path == "/version":
                self.reply(200, {"version": VERSION})
            else:
                self.reply(404, {"error": f"no such path {self.path}"})

        def do_POST(self):
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "jobs" and parts[2] == "start" and parts[1] in by_name:
                started = by_name[parts[1]].start()
                self.reply(200 if started else 409, {"job": parts[1], "started": started})
            else:
                self.reply(404, {"error": f"no such job or path {self.path}"})

        def log_message(self, *args):
            pass

    for address in listen:
        url = urlparse(address)
        server = http.server.ThreadingHTTPServer((url.hostname or "0.0.0.0", url.port or 8080), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        log(f"web API on {address}")


def main(path):
    try:
        zone, listen, jobs = load(path)
    except (OSError, yaml.YAMLError, ScheduleError) as error:
        print(f"privateer-scheduler: {error}", file=sys.stderr)
        return 1
    serve(listen, jobs)
    for job in jobs:
        log(f"[{job.name}] scheduled '{job.expression}' ({zone.key}); next run {job.next_run.isoformat()}")
    while True:
        now = datetime.datetime.now(zone)
        for job in jobs:
            if job.next_run <= now:
                job.start()
                job.next_run = job.following(now)
        time.sleep(max(0.2, min((job.next_run - now).total_seconds() for job in jobs) if jobs else 60))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/privateer/keys/yacron.yml"))
