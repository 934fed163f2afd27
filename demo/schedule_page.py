"""The meeting schedule as a page a person wants to look at: one row per
enterprise, one column per time slot, each cell the party met and the table."""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

_KIND_COLOURS = {"fund": "#e0ecff", "bank": "#fff1d6", "company": "#e3f6e8"}


def render_schedule_html(
    roadshow: Mapping[str, Any],
    enterprises: Mapping[str, str],
    participants: Mapping[str, tuple[str, str]],
    meetings: Iterable[Mapping[str, Any]],
) -> str:
    """`enterprises`: id -> name; `participants`: id -> (name, kind); meetings as
    the matching API returns them (enterprise_id, participant_id, slot, table,
    starts_at, ends_at, score)."""
    zone = ZoneInfo(str(roadshow["timezone"]))
    live = [m for m in meetings if m.get("status", "scheduled") == "scheduled"]
    slot_start: dict[int, datetime] = {}
    grid: dict[str, dict[int, Mapping[str, Any]]] = defaultdict(dict)
    for m in live:
        slot_start[int(m["slot"])] = datetime.fromisoformat(str(m["starts_at"])).astimezone(zone)
        grid[str(m["enterprise_id"])][int(m["slot"])] = m
    slots = sorted(slot_start)
    e = html.escape
    header = "".join(f"<th scope=col>{slot_start[s]:%H:%M}</th>" for s in slots)
    rows = []
    for eid, name in sorted(enterprises.items(), key=lambda kv: kv[1]):
        cells = []
        for s in slots:
            found = grid.get(eid, {}).get(s)
            if found is None:
                cells.append("<td class=free></td>")
                continue
            m = found
            pname, kind = participants.get(str(m["participant_id"]), ("?", "company"))
            where = (
                f"{m['venue']} table {m.get('venue_table') or m['table']}"
                if m.get("venue")
                else f"table {int(m['table'])}"
            )
            langs = m.get("interpreter_languages") or []
            interpreter = f" · interpreter {'/'.join(langs)}" if langs else ""
            cells.append(
                f"<td class=meeting style='background:{_KIND_COLOURS.get(kind, '#eee')}'"
                f" data-participant='{e(str(m['participant_id']))}'>"
                f"<b>{e(pname)}</b><br><span class=meta>{e(kind)} · {e(where)}"
                f" · {float(m['score']):.2f}{e(interpreter)}</span></td>"
            )
        count = len(grid.get(eid, {}))
        rows.append(
            f"<tr data-enterprise='{e(eid)}'><th scope=row>{e(name)}<br>"
            f"<span class=meta>{count} meetings</span></th>{''.join(cells)}</tr>"
        )
    first_day = slot_start[slots[0]].strftime("%A %d %B %Y") if slots else ""
    legend = "".join(
        f"<span class=chip style='background:{c}'>{k}</span>" for k, c in _KIND_COLOURS.items()
    )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<title>{e(str(roadshow["name"]))} — meeting schedule</title>
<style>
 body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2733 }}
 h1 {{ margin: 0 0 .2rem; font-size: 1.5rem }}
 .sub {{ color: #5a6a7a; margin-bottom: 1rem }}
 table {{ border-collapse: collapse; width: 100% }}
 th, td {{ border: 1px solid #d5dde5; padding: .35rem .45rem; vertical-align: top; font-size: 12px }}
 thead th {{ position: sticky; top: 0; background: #1d2733; color: #fff }}
 tbody th {{ text-align: left; background: #f6f8fa; min-width: 12rem }}
 td.free {{ background: repeating-linear-gradient(45deg,#fafafa,#fafafa 4px,#f0f0f0 4px,#f0f0f0 8px) }}
 .meta {{ color: #5a6a7a; font-size: 11px }}
 .chip {{ padding: .1rem .5rem; border-radius: .6rem; margin-right: .4rem }}
</style></head><body>
<h1>{e(str(roadshow["name"]))}</h1>
<div class=sub>{e(str(roadshow.get("venue", "")))} · {e(first_day)} · times in {e(str(roadshow["timezone"]))}
 · <span id=total-meetings>{len(live)}</span> meetings for {len(enterprises)} enterprises</div>
<p>{legend}</p>
<table id=schedule><thead><tr><th scope=col>Enterprise</th>{header}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>
"""
