#!/usr/bin/env python3
"""montagu-offsite-wals URL SERVER FIRST DIR: every WAL file barman-cloud keeps for SERVER at
URL (s3://bucket/prefix) from segment FIRST on, and every timeline history file, into DIR.

What a recovery from the bucket replays, fetched before it starts, so that whatever database
image replays it needs only `cp` (as after `barman recover`), never the bucket's keys. The
endpoint is $BARMAN_OFFSITE_ENDPOINT; the keys come from the environment, as boto3 reads them.
A file is written under a temporary name and renamed once whole; one already there is kept.
"""
import gzip
import os
import re
import shutil
import sys

import boto3

SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{16})$")
HISTORY = re.compile(r"^[0-9A-F]{8}\.history$")


def wanted(name, first):
    """Whether `name` is a history file, or a segment of `first`'s timeline or a later one, at or past it."""
    if HISTORY.match(name):
        return True
    segment, start = SEGMENT.match(name), SEGMENT.match(first)
    return bool(segment and start and segment.group(1) >= start.group(1) and segment.group(2) >= start.group(2))


def main(url, server, first, directory):
    if not SEGMENT.match(first):
        print(f"montagu-offsite-wals: '{first}' is not a WAL segment name", file=sys.stderr)
        return 2
    match = re.match(r"^s3://([^/]+)/?(.*)$", url)
    if match is None:
        print(f"montagu-offsite-wals: '{url}' is not an s3:// URL", file=sys.stderr)
        return 2
    bucket, prefix = match.group(1), match.group(2).strip("/")
    client = boto3.client("s3", endpoint_url=os.environ["BARMAN_OFFSITE_ENDPOINT"])
    root = f"{prefix}/{server}/wals/" if prefix else f"{server}/wals/"
    os.makedirs(directory, exist_ok=True)
    fetched = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
        for item in page.get("Contents", []):
            key = item["Key"]
            base = key.rsplit("/", 1)[-1]
            compressed = base.endswith(".gz")
            name = base[:-3] if compressed else base
            if not wanted(name, first):
                continue
            if "." in name.replace(".history", ""):
                print(f"montagu-offsite-wals: {key}: compressed in a way this does not read", file=sys.stderr)
                return 1
            target = os.path.join(directory, name)
            if os.path.exists(target):
                continue
            partial = f"{target}.partial"
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
            with open(partial, "wb") as out:
                shutil.copyfileobj(gzip.GzipFile(fileobj=body) if compressed else body, out)
            os.replace(partial, target)
            fetched += 1
    print(f"montagu-offsite-wals: {fetched} WAL file(s) from {url} into {directory}, from {first} on", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print("usage: montagu-offsite-wals URL SERVER FIRST DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
