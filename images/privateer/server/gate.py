#!/usr/bin/env python3
"""The forced command of every client key on a privateer server (authorized_keys:
`restrict,command="privateer-gate CLIENT" ssh-rsa ...`). It lets a client do exactly what
privateer and our transfers do, and nothing else:

- `cat /privateer/keys/name`: privateer's `check --connection`;
- `rsync --server ...` receiving: only into the client's own `/privateer/volumes/CLIENT`;
- `rsync --server --sender ...`: reading any client's copy, the history's snapshots and the
  server's local volumes;
- `montagu VERB PATH ...`: the looks, lock, snapshot and push markers of our transfers
  (below), each confined as the rsync it goes with.

rsync itself is handed to rrsync, rsync's own restricted wrapper (it vets every option and
pins every path against symlink races), on the one directory this gate picks. A push never
writes into a file in place (`--inplace`, `--append`): the history's snapshots share the
copy's files by hard links, and rsync otherwise writes a changed file anew.

Every decision is logged, with the client's name, to the server container's log (sshd's
own stderr); what the client sees is a one-line reason, on stderr, and exit code 126.
"""
import os
import re
import sys

from gate_paths import KEYS, NAME, HISTORY, LOCAL, VOLUMES, Refused, normal, own_root, read, readable, readable_root, writable
from gate_verbs import verb

RRSYNC = "/usr/bin/rrsync"
# Writes that would change a file shared with a history snapshot: in place, or by appending a
# log to a file of the client's own copy (rrsync allows a log file within its directory).
IN_PLACE = ("--inplace", "--append", "--append-verify", "--write-devices", "--log-file")


def log(client, verdict, what):
    line = f"privateer-gate: {client}: {verdict}: {what}\n"
    try:
        # sshd runs in the foreground as the container's first process: its stderr is the log.
        with open("/proc/1/fd/2", "a", encoding="utf-8") as server_log:
            server_log.write(line)
    except OSError:
        pass


# rrsync's own split of the command line: words, with backslash escapes kept for it to read.
WORDS = re.compile(r"(?:[^\s\\]+|\\.[^\s\\]*)+")


def rsync(client, words):
    """`rsync --server [--sender] OPTIONS . PATH...`: the checks are rrsync's, on the root chosen here."""
    if words[1:2] != ["--server"] or "." not in words:
        raise Refused("not an rsync server command")
    dot = words.index(".")
    options, paths = words[2:dot], [normal(word) for word in words[dot + 1 :]]
    if not paths:
        raise Refused("rsync names no path")
    sending = options[:1] == ["--sender"]
    if sending:
        roots = {readable_root(readable(path)) for path in paths}
        if len(roots) != 1:
            raise Refused("one transfer reads from one place")
        # rrsync calls its directory '.', so a copy's own directory is not the root: a pull of
        # it keeps its name, as without the gate.
        root, mode = roots.pop(), "-ro"
        if root not in (HISTORY, LOCAL):
            root = VOLUMES
    else:
        for option in options:
            if option.split("=")[0] in IN_PLACE:
                raise Refused(f"{option}: a push writes changed files anew, never into a file a snapshot shares")
        for path in paths:
            writable(client, path)
        root, mode = own_root(client), "-wo"
        os.makedirs(root, exist_ok=True)
    return [RRSYNC, mode, "-absolute", "-no-lock", root], f"rsync {'read' if sending else 'write'} {' '.join(paths)}"


def decide(client, command):
    """What to run for the client's command, and how to name it in the log; raises Refused."""
    if command is None:
        raise Refused("a shell: this key runs transfers only")
    words = WORDS.findall(command)
    if command == f"cat {KEYS}/name":
        return lambda: sys.stdout.write(read(f"{KEYS}/name")), "connection check"
    if words[:1] == ["rsync"]:
        argv, what = rsync(client, words)
        return lambda: os.execv(argv[0], argv), what
    if words[:1] == ["montagu"]:
        return verb(client, words, lambda verdict, what: log(client, verdict, what))
    raise Refused(f"{command.split()[0] if command.split() else 'an empty command'}: this key runs transfers only")


def main():
    if len(sys.argv) != 2 or not NAME.match(sys.argv[1]):
        print("privateer-gate: usage: privateer-gate CLIENT", file=sys.stderr)
        return 2
    client = sys.argv[1]
    command = os.environ.get("SSH_ORIGINAL_COMMAND")
    try:
        run, what = decide(client, command)
    except (Refused, OSError) as refusal:
        log(client, "refused", f"{refusal} (asked: {command!r})")
        print(f"privateer-gate: refused: {refusal}", file=sys.stderr)
        return 126
    log(client, "allowed", what)
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
