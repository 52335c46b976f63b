"""The status page (GET /): what /status.json says, for a person. Rendered here, with inline SVG
and CSS: no script and nothing fetched from the network, so that it works from a phone on a
host that reaches nothing else, and refreshes itself."""
import html

from monitor_history import day_of
from monitor_status import FRESH, LATE, UNREADABLE, WAITING, status
from monitor_times import describe_age

STRIP_DAYS = 30
COLOURS = {LATE: "#c62828", UNREADABLE: "#b26a00", WAITING: "#5f6b7a", FRESH: "#2e7d32"}
NO_CHECK = "#dde1e6"
# The worst state a day saw colours its cell.
WORST_FIRST = (LATE, UNREADABLE, WAITING, FRESH)

STYLE = """
body{font:16px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;color:#1f2328;background:#f6f8fa}
header,main{max-width:72rem;margin:0 auto}
h1{font-size:1.4rem;margin:0 0 .25rem}
.summary{font-size:1.1rem;margin:.25rem 0}
.banner{background:#c62828;color:#fff;padding:.5rem .75rem;border-radius:.4rem}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(19rem,1fr));gap:.75rem;margin-top:1rem}
section{background:#fff;border:1px solid #d0d7de;border-left:.5rem solid var(--state);border-radius:.4rem;padding:.6rem .8rem;overflow-wrap:anywhere}
h2{font-size:1rem;margin:0;display:flex;gap:.5rem;align-items:baseline;flex-wrap:wrap}
.state{background:var(--state);color:#fff;border-radius:.3rem;padding:0 .4rem;font-weight:600}
.what{margin:.2rem 0;color:#57606a}
dl{display:grid;grid-template-columns:auto 1fr;gap:0 .6rem;margin:.4rem 0}
dt{color:#57606a}dd{margin:0}
svg{display:block;width:100%;height:auto}
.axis{display:flex;justify-content:space-between;font-size:.75rem;color:#57606a}
.error{color:#b26a00}
"""


def text(value):
    return html.escape(str(value), quote=True)


def size_text(size):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def strip(days, now):
    """One cell per day, oldest first, coloured by the worst state its checks found."""
    cells = []
    for index in range(STRIP_DAYS):
        day = day_of(now - (STRIP_DAYS - 1 - index) * 86400)
        checks = days.get(day, {}).get("checks", {})
        worst = next((state for state in WORST_FIRST if checks.get(state)), None)
        told = ", ".join(f"{checks[state]} {state}" for state in WORST_FIRST if checks.get(state)) or "no check"
        cells.append(f'<rect x="{index * 10}" y="0" width="9" height="16" fill="{COLOURS.get(worst, NO_CHECK)}"><title>{day}: {text(told)}</title></rect>')
    return (
        f'<svg viewBox="0 0 {STRIP_DAYS * 10 - 1} 16" role="img" aria-label="the last {STRIP_DAYS} days">{"".join(cells)}</svg>'
        f'<div class="axis"><span>{STRIP_DAYS} days ago</span><span>today</span></div>'
    )


def size_plot(days, now):
    """The copy's size at each day's last check that could tell it, over the strip's days."""
    first = now - (STRIP_DAYS - 1) * 86400
    points = []
    for index in range(STRIP_DAYS):
        size = days.get(day_of(first + index * 86400), {}).get("size")
        if size is not None:
            points.append((index, size))
    if not points:
        return ""
    top = max(size for _, size in points) or 1
    coordinates = " ".join(f"{index * 10 + 4.5:.1f},{50 - 46 * size / top:.1f}" for index, size in points)
    dots = "".join(f'<circle cx="{index * 10 + 4.5:.1f}" cy="{50 - 46 * size / top:.1f}" r="2" fill="#0969da"/>' for index, size in points)
    return (
        f'<svg viewBox="0 0 {STRIP_DAYS * 10 - 1} 52" role="img" aria-label="size over the last {STRIP_DAYS} days">'
        f'<line x1="0" y1="50" x2="{STRIP_DAYS * 10 - 1}" y2="50" stroke="#d0d7de"/>'
        f'<polyline points="{coordinates}" fill="none" stroke="#0969da" stroke-width="1.5"/>{dots}</svg>'
        f'<div class="axis"><span>size, up to {size_text(top)}</span><span>now {size_text(points[-1][1])}</span></div>'
    )


def backup_card(entry, days, now):
    rows = [
        ("age", f"{describe_age(entry['age_seconds'])} of {describe_age(entry['stale_after_seconds'])} allowed"),
        ("last success", entry["last_success"] or "never"),
    ]
    if entry["next_due"]:
        rows.append(("next due", entry["next_due"]))
    if entry["state"] != LATE:
        rows.append(("late at", entry["late_at"]))
    if entry["schedule"]:
        rows.append(("schedule", entry["schedule"]))
    if entry["size_bytes"] is not None:
        rows.append(("size", size_text(entry["size_bytes"])))
    offsite = entry["offsite"]
    if offsite is not None:
        lag = "no copy yet" if offsite["last_success"] is None else ("unknown" if offsite["lag_seconds"] is None else describe_age(offsite["lag_seconds"]) + " behind")
        rows.append(("off-site", f"{lag} ({offsite['state']})"))
    listed = "".join(f"<dt>{text(name)}</dt><dd>{text(value)}</dd>" for name, value in rows)
    error = f'<p class="error">{text(entry["error"])}</p>' if entry["error"] else ""
    return (
        f'<section class="backup" data-backup="{text(entry["id"])}" data-state="{entry["state"]}" style="--state:{COLOURS[entry["state"]]}">'
        f'<h2><span class="state">{entry["state"]}</span><span class="id">{text(entry["id"])}</span></h2>'
        f'<p class="what">{text(entry["description"])}</p><dl>{listed}</dl>{error}'
        f"{strip(days, now)}{size_plot(days, now)}</section>"
    )


def nightly_card(nightly):
    if nightly is None:
        return ""
    state = LATE if nightly["failed"] or nightly["error"] else FRESH
    word = "failed" if nightly["failed"] else ("unreadable" if nightly["error"] else ("passed" if nightly["answer"] is not None else "not yet"))
    rows = [("answer", nightly["answer"] if nightly["answer"] is not None else "none yet"), ("verified at", nightly["verified_at"] or "never")]
    if nightly["failure"]:
        rows.append(("failure", nightly["failure"]))
    if nightly["error"]:
        rows.append(("error", nightly["error"]))
    listed = "".join(f"<dt>{text(name)}</dt><dd>{text(value)}</dd>" for name, value in rows)
    return (
        f'<section class="nightly" data-state="{word}" style="--state:{COLOURS[state] if word != "not yet" else COLOURS[WAITING]}">'
        f'<h2><span class="state">{word}</span><span class="id">nightly verification</span></h2>'
        f'<p class="what">barman\'s nightly recovery of its latest backup, asked its verification query</p><dl>{listed}</dl></section>'
    )


def page(config, snapshot, now):
    facts = status(config, snapshot, now)
    history = snapshot.get("history", {"backups": {}})["backups"]
    counts = facts["counts"]
    summary = ", ".join(f"{counts[state]} {state}" for state in WORST_FIRST if counts[state]) or "no check yet"
    banner = ""
    if not facts["monitor_ok"]:
        since = facts["checked_at"] or "it started"
        banner = f'<p class="banner">The monitor has not checked since {text(since)}: what follows may be old.</p>'
    cards = "".join(backup_card(entry, history.get(entry["id"], {}), now) for entry in facts["backups"])
    refresh = max(5, int(config["checkEverySeconds"]))
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{refresh}">'
        f"<title>{text(config['name'])}: {text(summary)}</title><style>{STYLE}</style></head>"
        f"<body><header><h1>Backups on {text(config['name'])}</h1>"
        f'<p class="summary">{text(summary)}</p>{banner}'
        f"<p>Checked at {text(facts['checked_at'] or 'not yet')}; every {describe_age(config['checkEverySeconds'])}. "
        f'The same as JSON: <a href="status.json">status.json</a>; metrics: <a href="metrics">metrics</a>.</p></header>'
        f"<main>{cards}{nightly_card(facts['nightly_verification'])}</main></body></html>\n"
    )
