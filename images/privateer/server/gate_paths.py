"""Where a client's request may lead on a privateer server: each path made plain, then confined to
the client's own copies (writes) or to the copies, history and local volumes (reads), and held
open so that a symlink swapped in afterwards cannot lead elsewhere."""
import os
import re

KEYS = "/privateer/keys"
VOLUMES = "/privateer/volumes"
LOCAL = "/privateer/local"
HISTORY = f"{VOLUMES}/.montagu/history"
# Docker volume names and privateer machine names; a copy's directory never starts with a dot.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SNAPSHOT = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
# A name at the top of a copy that a transfer looks for or leaves out (.barman-last-restore, .montagu).
TOP = re.compile(r"^\.?[A-Za-z0-9][A-Za-z0-9_.-]*$")
# What a path in a request may hold: Docker names, snapshot names and slashes; no glob, brace,
# escape or space, which rrsync would expand into paths this gate never saw.
PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")


class Refused(Exception):
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
