"""What the monitor keeps under STATE_DIR: what it has told and what waits to be sent
(memory.json), and the status files."""
import json
import os
import tempfile

STATE_DIR = os.environ.get("FRESHNESS_STATE", "/state")


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
