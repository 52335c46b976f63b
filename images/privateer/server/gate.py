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
import datetime
import errno
import fcntl
import os
import re
import stat
import subprocess
import sys

KEYS = "/privateer/keys"
VOLUMES = "/privateer/volumes"
LOCAL = "/privateer/local"
HISTORY = f"{VOLUMES}/.montagu/history"
# A push under way, or cut short: <client>/<volume> holds its start time until it finishes.
UNFINISHED = f"{VOLUMES}/.montagu/unfinished"
HISTORY_SCRIPT = "/usr/local/lib/privateer/history.sh"
RRSYNC = "/usr/bin/rrsync"
# Docker volume names and privateer machine names; a copy's directory never starts with a dot.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SNAPSHOT = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
# A name at the top of a copy that a transfer looks for or leaves out (.barman-last-restore, .montagu).
TOP = re.compile(r"^\.?[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Writes that would change a file shared with a history snapshot: in place, or by appending a
# log to a file of the client's own copy (rrsync allows a log file within its directory).
IN_PLACE = ("--inplace", "--append", "--append-verify", "--write-devices", "--log-file")
# What a path in a request may hold: Docker names, snapshot names and slashes; no glob, brace,
# escape or space, which rrsync would expand into paths this gate never saw.
PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")


class Refused(Exception):
    pass


def log(client, verdict, what):
    line = f"privateer-gate: {client}: {verdict}: {what}\n"
    try:
        # sshd runs in the foreground as the container's first process: its stderr is the log.
        with open("/proc/1/fd/2", "a", encoding="utf-8") as server_log:
            server_log.write(line)
    except OSError:
        pass


def read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def normal(path):
    """An absolute path without `.`, `..` or empty parts (a trailing slash is dropped), so that prefixes mean what they say."""
    if not PATH.match(path):
        raise Refused(f"{path!r} holds more than names and slashes")
    if len(path) > 1:
        path = path.removesuffix("/")
    if not path.startswith("/") or path != "/" + "/".join(p for p in path.split("/") if p not in ("", ".")):
        raise Refused(f"{path!r} is not a plain absolute path")
    if "/../" in path + "/":
        raise Refused(f"{path!r} climbs out with '..'")
    return path


def under(path, root):
    return path == root or path.startswith(root + "/")


def inside(path, root):
    """`path` (which may not exist yet) and its resolved self both lie under `root`."""
    return under(path, root) and under(os.path.realpath(path), os.path.realpath(root))


def own_root(client):
    return f"{VOLUMES}/{client}"


def readable_root(path):
    """The directory a read of `path` is confined to: a client's copies, the history or the local volumes."""
    for root in (HISTORY, LOCAL):
        if under(path, root) and path != root:
            return root
    first = path[len(VOLUMES) + 1 :].split("/")[0] if path.startswith(VOLUMES + "/") else ""
    if NAME.match(first):
        return f"{VOLUMES}/{first}"
    raise Refused(f"{path} is not a copy, a snapshot or a local volume this server serves")


def readable(path):
    path = normal(path)
    root = readable_root(path)
    if not inside(path, root):
        raise Refused(f"{path} leads out of {root}")
    return path


def opened(path, root):
    """The directory `path`, held open, or None if there is none; refused if what was opened lies
    out of `root`. What a request then reads goes through this descriptor, so a directory that a
    concurrent push swaps for a symlink after the checks above cannot lead it elsewhere."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not under(os.readlink(f"/proc/self/fd/{fd}"), os.path.realpath(root)):
        os.close(fd)
        raise Refused(f"{path} leads out of {root}")
    return fd


def opened_readable(path):
    return opened(readable(path), readable_root(normal(path)))


def own_directory(client, path):
    """`path` under the client's own directory, made where missing, one component at a time from
    that directory and never through a symlink (a concurrent push of the client's may swap one
    in): held open. The client's directory itself is made by name: no client writes beside it."""
    root = own_root(client)
    os.makedirs(root, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    for part in writable(client, path)[len(root) :].split("/")[1:]:
        try:
            os.mkdir(part, 0o755, dir_fd=fd)
        except FileExistsError:
            pass
        try:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError as error:
            raise Refused(f"{path}: {part} is not a directory of {client}'s own ({error.strerror})") from None
        finally:
            os.close(fd)
        fd = inner
    return fd


def writable(client, path):
    path = normal(path)
    root = own_root(client)
    if not under(path, root):
        raise Refused(f"{path} is not under {root}: a client writes only its own copies")
    if not inside(path, root):
        raise Refused(f"{path} leads out of {root}")
    return path


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


def hold_lock(fd, mode):
    """flock(1) on the copy's directory, as history.sh takes it; held until the client's stdin ends."""
    kind = fcntl.LOCK_EX if mode == "exclusive" else fcntl.LOCK_SH
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        print("waiting", flush=True)
        fcntl.flock(fd, kind)
    print("held", flush=True)
    while sys.stdin.buffer.read(65536):
        pass


def verb(client, words):
    """Our transfers' own requests, each with its paths confined as the rsync it goes with."""
    if len(words) < 3:
        raise Refused("montagu VERB PATH ...")
    name, rest = words[1], words[3:]
    path = normal(words[2])
    if name == "lock" and rest in (["shared"], ["exclusive"]):
        if rest == ["exclusive"]:
            fd = own_directory(client, path)
        else:
            fd = opened_readable(path)
        if fd is None:
            return lambda: print("missing", flush=True), f"lock {path} (missing)"
        return lambda: hold_lock(fd, rest[0]), f"lock {path} {rest[0]}"
    if name == "list" and not rest:
        fd = opened_readable(path)
        return lambda: print("\n".join(sorted(os.listdir(fd))) if fd is not None else "(missing)"), f"list {path}"
    if name == "stamp" and len(rest) == 1 and TOP.match(rest[0]):
        fd = opened_readable(path)

        def stamp():
            if fd is None:
                return
            try:
                # Never through a symlink: a client may have pushed one under the stamp's name.
                handle = os.open(rest[0], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            except OSError:
                return
            with open(handle, encoding="utf-8", errors="replace") as stamped:
                if stat.S_ISREG(os.fstat(handle).st_mode):
                    sys.stdout.write(stamped.read(4096))

        return stamp, f"stamp {path}/{rest[0]}"
    if name == "newest" and not rest:
        if not under(readable(path), HISTORY):
            raise Refused(f"{path} is not a history")
        fd = opened_readable(path)

        def newest():
            names = sorted(n for n in os.listdir(fd) if SNAPSHOT.match(n)) if fd is not None else []
            print(names[-1] if names else "")

        return newest, f"newest {path}"
    if name == "fresh" and not rest:
        fd = own_directory(client, path)
        return lambda: print("yes") if not os.listdir(fd) else None, f"fresh {path}"
    if name == "files" and all(TOP.match(top) for top in rest):
        fd = opened_readable(path)
        if fd is None:
            raise Refused(f"{path} does not exist")
        prune = [part for top in rest for part in ("-path", f"./{top}", "-prune", "-o")]
        command = ["find", ".", "-mindepth", "1", *prune, "!", "-type", "d", "-printf", "%s\t%p\\0"]

        def files():
            os.fchdir(fd)
            subprocess.run(command, check=True)

        return files, f"files {path}"
    if name in ("snapshot", "pushing", "pushed") and not rest:
        volume = writable(client, path)[len(own_root(client)) + 1 :]
        if not NAME.match(volume):
            raise Refused(f"{path} is not one of {client}'s copies")
        if name == "snapshot":
            command = ["bash", HISTORY_SCRIPT, "snapshot", path, f"{HISTORY}/{client}/{volume}"]
            return lambda: sys.exit(subprocess.run(command).returncode), f"snapshot {path}"
        marker = f"{UNFINISHED}/{client}/{volume}"
        if name == "pushing":

            def pushing():
                os.makedirs(os.path.dirname(marker), exist_ok=True)
                with open(marker, "w", encoding="utf-8") as started:
                    started.write(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))

            return pushing, f"pushing {path}"
        return lambda: os.path.exists(marker) and os.remove(marker), f"pushed {path}"
    if name == "unfinished" and not rest:
        parts = readable(path)[len(VOLUMES) + 1 :].split("/")
        if len(parts) != 2 or not all(NAME.match(part) for part in parts):
            raise Refused(f"{path} is not a client's copy")
        marker = f"{UNFINISHED}/{parts[0]}/{parts[1]}"
        return lambda: sys.stdout.write(read(marker) if os.path.isfile(marker) else ""), f"unfinished {path}"
    raise Refused(f"montagu {name}: not a request this server takes in that form")


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
        return verb(client, words)
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
