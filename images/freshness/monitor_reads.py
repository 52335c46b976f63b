"""Each backup's last success, read from what the backup leaves behind (`read` in the config)."""
import datetime
import hashlib
import json
import os
import re

from monitor_times import parse_time


def read_timestamp_file(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_time(handle.read(200))
    except FileNotFoundError:
        return None


def read_barman_backups(path, want_size=False):
    """The end of barman's newest finished base backup: a failed or running one is no success.
    With want_size, also its size in bytes (backup.info's `size`), or None."""
    newest = None
    size = None
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return (None, None) if want_size else None
    for name in names:
        try:
            with open(os.path.join(path, name, "backup.info"), encoding="utf-8") as handle:
                info = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)
        except FileNotFoundError:
            continue
        if info.get("status") != "DONE" or info.get("end_time") in (None, "None"):
            continue
        ended = parse_time(info["end_time"])
        if newest is None or ended > newest:
            newest = ended
            size = int(info["size"]) if info.get("size", "").isdigit() else None
    return (newest, size) if want_size else newest


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


def read_verified_dump(directory, prefix, want_size=False):
    """The time of the newest dump named `<prefix><UTC time>.dump` that its sha256 still vouches for: a dump cut short or damaged since is no success.
    With want_size, also its size in bytes."""
    nothing = (None, None) if want_size else None
    try:
        names = sorted((name for name in os.listdir(directory) if name.startswith(prefix) and DUMP_STAMP.match(name[len(prefix):])), reverse=True)
    except FileNotFoundError:
        return nothing
    for name in names:
        path = os.path.join(directory, name)
        try:
            if dump_matches_checksum(path):
                stamp = DUMP_STAMP.match(name[len(prefix):]).group(1)
                made = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
                return (made, os.stat(path).st_size) if want_size else made
        except (FileNotFoundError, IndexError):
            continue
    return nothing


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
    """(its last success, the size of that copy in bytes when the monitor can tell it, else None)."""
    if read["kind"] == "timestamp-file":
        return read_timestamp_file(read["path"]), None
    if read["kind"] == "barman-backups":
        return read_barman_backups(read["path"], want_size=True)
    if read["kind"] == "newest-file":
        return read_newest_file(read["paths"]), None
    if read["kind"] == "verified-dump":
        return read_verified_dump(read["directory"], read["prefix"], want_size=True)
    if read["kind"] == "newest-object":
        return read_newest_object(read["endpoint"], read["region"], read["bucket"], read["prefix"]), None
    raise ValueError(f"unknown reader {read['kind']}")


def read_nightly(nightly):
    """barman's last nightly verification: its answer and when it was given (images/barman/verify.sh),
    and whether the last night failed (its flag files, which hold the reason)."""
    if nightly is None:
        return None
    answer = None
    try:
        with open(nightly["verified"], encoding="utf-8") as handle:
            verified = json.load(handle)
        answer = {"time": parse_time(verified["time"]), "answer": str(verified["answer"])[:200], "seconds": verified.get("seconds")}
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as problem:
        answer = {"error": f"cannot read {nightly['verified']}: {problem}"}
    failure = None
    for path in nightly["failed"]:
        try:
            with open(path, encoding="utf-8") as handle:
                failure = handle.read(500).strip() or f"{os.path.basename(path)}"
            break
        except FileNotFoundError:
            continue
    return {"verified": answer, "failure": failure}
