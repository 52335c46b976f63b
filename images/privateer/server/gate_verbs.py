"""The `montagu VERB PATH ...` requests of our transfers: looks, lock, snapshot and push markers,
each with its paths confined as the rsync it goes with."""
import datetime
import errno
import fcntl
import os
import stat
import subprocess
import sys

from gate_paths import HISTORY, NAME, SNAPSHOT, TOP, VOLUMES, Refused, normal, opened_readable, own_directory, own_root, read, readable, under, writable

# A push under way, or cut short: <client>/<volume> holds its start time until it finishes.
UNFINISHED = f"{VOLUMES}/.montagu/unfinished"
# The last push that finished: <client>/<volume> holds its end time (what the freshness monitor reads).
PUSHED = f"{VOLUMES}/.montagu/pushed"
HISTORY_SCRIPT = "/usr/local/lib/privateer/history.sh"
# sshd runs in the foreground as the container's first process: its stderr is the server's log.
SERVER_LOG = "/proc/1/fd/2"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hold_lock(fd, mode, requests, log):
    """flock(1) on the copy's directory, as history.sh takes it; held until the client's stdin
    ends. Meanwhile each line the client sends names a request of `requests`, which is done
    under the lock and answered by its output, then `done STATUS`: a push asks its steps on the
    server in the session that holds its lock rather than a session each."""
    kind = fcntl.LOCK_EX if mode == "exclusive" else fcntl.LOCK_SH
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        print("waiting", flush=True)
        fcntl.flock(fd, kind)
    print("held", flush=True)
    for line in sys.stdin.buffer:
        name = line.decode("utf-8", "replace").strip()
        request = requests.get(name)
        if request is None:
            log("refused", f"{name!r} under a {mode} lock")
            print(f"privateer-gate: refused: {name!r}: not a request a {mode} lock takes", flush=True)
            print("done 126", flush=True)
            continue
        try:
            status = request() or 0
        except OSError as error:
            print(f"privateer-gate: {name}: {error}", flush=True)
            status = 1
        print(f"done {status}", flush=True)


def snapshot(client, path, volume):
    """The copy as it is, kept in the client's history of it (history.sh); its exit status."""
    sys.stdout.flush()
    return subprocess.run(["bash", HISTORY_SCRIPT, "snapshot", path, f"{HISTORY}/{client}/{volume}"]).returncode


def keep_after_push(client, path, volume, fd):
    """The copy just pushed kept in the history by a process of its own, which holds the push's
    lock (the open description of `fd`, flock(2)'s owner) until the hard links are made: the
    push ends without waiting for them (the links to 20,000 files were 0.40 s of a 1.37 s push
    after 1% of them changed), and the next transfer of the copy waits for them instead. The
    next push's `begin` then finds the copy kept already; if this one is cut short (the server
    stopped), that `begin` keeps the copy itself, as it always did. What it says goes to the
    server's log."""
    sys.stdout.flush()
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:
        # A session of its own, and not sshd's child: the client's session ends with the gate.
        os.setsid()
        if os.fork():
            os._exit(0)
        nothing = os.open(os.devnull, os.O_RDONLY)
        try:
            server_log = os.open(SERVER_LOG, os.O_WRONLY | os.O_APPEND)
        except OSError:
            server_log = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nothing, 0)
        os.dup2(server_log, 1)
        os.dup2(server_log, 2)
        status = snapshot(client, path, volume)
        if status != 0:
            print(f"privateer-gate: {client}: keeping {path} after its push failed (exit {status}); the next push keeps it", flush=True)
        os._exit(status)
    except BaseException:
        os._exit(1)


def pushing(client, volume):
    marker = f"{UNFINISHED}/{client}/{volume}"
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    with open(marker, "w", encoding="utf-8") as started:
        started.write(now())


def pushed(client, volume):
    marker = f"{UNFINISHED}/{client}/{volume}"
    record = f"{PUSHED}/{client}/{volume}"
    os.makedirs(os.path.dirname(record), exist_ok=True)
    temporary = f"{record}.partial"
    with open(temporary, "w", encoding="utf-8") as finished:
        finished.write(now())
    # The record, then the marker: killed between the two, the copy still reads as unfinished.
    os.replace(temporary, record)
    if os.path.exists(marker):
        os.remove(marker)


def own_copy(client, path):
    """The name of the client's copy at `path` (`/privateer/volumes/<client>/<name>`)."""
    volume = writable(client, path)[len(own_root(client)) + 1 :]
    if not NAME.match(volume):
        raise Refused(f"{path} is not one of {client}'s copies")
    return volume


def push_requests(client, path, fd, log):
    """What a push asks under its exclusive lock on one of the client's copies: `begin` (the copy
    kept in the history unless it is already, marked unfinished, and `answer fresh` when it is
    empty) and `pushed` (marked pushed, then kept in the history after the client has gone)."""
    try:
        volume = own_copy(client, path)
    except Refused:
        return {}

    def begin():
        log("allowed", f"begin {path}")
        status = snapshot(client, path, volume)
        if status != 0:
            return status
        pushing(client, volume)
        if not os.listdir(fd):
            print("answer fresh", flush=True)
        return 0

    def ended():
        log("allowed", f"pushed {path}")
        pushed(client, volume)
        keep_after_push(client, path, volume, fd)
        print("the copy is being kept in the history; the next transfer of it waits for that", flush=True)

    return {"begin": begin, "pushed": ended}


def verb(client, words, log):
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
        requests = push_requests(client, path, fd, log) if rest == ["exclusive"] else {}
        return lambda: hold_lock(fd, rest[0], requests, log), f"lock {path} {rest[0]}"
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
        volume = own_copy(client, path)
        if name == "snapshot":
            return lambda: sys.exit(snapshot(client, path, volume)), f"snapshot {path}"
        if name == "pushing":
            return lambda: pushing(client, volume), f"pushing {path}"
        return lambda: pushed(client, volume), f"pushed {path}"
    if name == "unfinished" and not rest:
        parts = readable(path)[len(VOLUMES) + 1 :].split("/")
        if len(parts) != 2 or not all(NAME.match(part) for part in parts):
            raise Refused(f"{path} is not a client's copy")
        marker = f"{UNFINISHED}/{parts[0]}/{parts[1]}"
        return lambda: sys.stdout.write(read(marker) if os.path.isfile(marker) else ""), f"unfinished {path}"
    raise Refused(f"montagu {name}: not a request this server takes in that form")
