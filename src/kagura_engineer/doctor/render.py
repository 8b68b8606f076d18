"""Doctor's output: an aligned table for people, or one JSON document.

The table has STATUS, CHECK and DETAIL columns; a check's fix hint follows on its own
`fix:` line under the detail, so long hints never push the columns off the screen.
"""

from __future__ import annotations

import json

from kagura_engineer.doctor.model import Report, Status

HEADERS = ("STATUS", "CHECK", "DETAIL")


def table(report: Report) -> str:
    rows = [(r.status.value, r.name, r.detail, r.hint) for r in report.results]
    w_status = max(len(HEADERS[0]), *(len(r[0]) for r in rows)) if rows else len(HEADERS[0])
    w_name = max(len(HEADERS[1]), *(len(r[1]) for r in rows)) if rows else len(HEADERS[1])
    indent = " " * (w_status + 2 + w_name + 2)
    lines = [f"{HEADERS[0]:<{w_status}}  {HEADERS[1]:<{w_name}}  {HEADERS[2]}"]
    for status, name, detail, hint in rows:
        lines.append(f"{status:<{w_status}}  {name:<{w_name}}  {detail}")
        if hint:
            lines.append(f"{indent}fix: {hint}")
    counts = {s: sum(r.status is s for r in report.results) for s in Status}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    lines.append("")
    lines.append(f"{'ok' if report.ok else 'not ok'}: {summary}")
    return "\n".join(lines)


def as_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)
