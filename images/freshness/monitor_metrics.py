"""The last check, served on the metrics port: as Prometheus metrics (/metrics), as facts for
programs (/status.json) and as a page for people (/)."""
import http.server
import json
import os
import re
import threading
import time

from monitor_page import page as status_page
from monitor_status import status

LABEL_VALUE = re.compile(r'["\\\n]')


def label(text):
    return LABEL_VALUE.sub(lambda m: {"\"": '\\"', "\\": "\\\\", "\n": "\\n"}[m.group(0)], text)


def render(config, snapshot, now):
    lines = []
    checked = snapshot.get("checked_at")
    place = f'{{name="{label(config["name"])}"}}'
    # A monitor that stopped checking must not look healthy.
    lines.append(f"montagu_backup_monitor_ok{place} {int(checked is not None and now - checked <= 3 * config['checkEverySeconds'])}")
    if checked is not None:
        lines.append(f"montagu_backup_monitor_time_since_last_check_seconds{place} {round(now - checked, 3)}")
    lines.append(f"montagu_backup_alerts_unsent{place} {snapshot.get('outbox', 0)}")
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


def serve(config, latest, lock):
    """Serves `latest` (a check's snapshot, which the checks replace under `lock`) from a thread of its own."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            pages = {
                "/": (status_page, "text/html; charset=utf-8"),
                "/metrics": (render, "text/plain; version=0.0.4"),
                "/status.json": (lambda *args: json.dumps(status(*args), indent=1) + "\n", "application/json"),
            }
            if self.path not in pages:
                self.send_error(404)
                return
            page, content_type = pages[self.path]
            with lock:
                body = page(config, latest, time.time()).encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FRESHNESS_PORT", "5001"))), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
