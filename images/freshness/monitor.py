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
import json
import os
import sys
import threading
import time

# Run from its source folder, which is its image's build context, a bytecode cache written
# there would be a file the image does not have.
sys.dont_write_bytecode = True
# Its modules lie beside it (the image links montagu-freshness to it). Python looks there for a
# script it runs, but not for a file loaded by its path, as the unit tests load this one.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from monitor_checks import check
from monitor_metrics import serve
from monitor_state import STATE_DIR, write_atomically
# What the unit tests ask of this file: what a reader finds, in the monitor's time format.
from monitor_reads import read_verified_dump
from monitor_times import iso

CONFIG = os.environ.get("FRESHNESS_CONFIG", "/etc/montagu/freshness.json")


def write_rules(config):
    """The Prometheus rules the stack generated, in the monitor's volume for a Prometheus to load."""
    if config.get("rules") is not None:
        write_atomically(os.path.join(STATE_DIR, "prometheus", "montagu-backup.rules.yml"), config["rules"])


def run(config):
    write_rules(config)
    latest = {}
    lock = threading.Lock()
    serve(config, latest, lock)
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
