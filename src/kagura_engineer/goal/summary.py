"""The milestone's progress table: `$GITHUB_STEP_SUMMARY` and the tracking issue's comment.

`render(result)` is pure markdown (one row per open issue: state, PR, verdict, cost). The
tracking comment starts with the hidden marker of the goal's progress key (the one the
Action's own progress comment uses), so each update edits that one comment — after a kill
too — and never adds another.
"""

from __future__ import annotations

import re
from typing import Any

from kagura_engineer.errors import KaguraError
from kagura_engineer.goal.outcome import GoalResult

ICONS = {
    "shipped": "✅", "blocked": "⛔", "failed": "❌", "busy": "⏳", "waiting": "🕓",
    "pending": "⬜", "ready": "🟢", "running": "🔄",
}  # fmt: skip
COMMENT_LIMIT = 65536
STATUS = {"shipped": "✅ shipped", "blocked": "⛔ blocked", "failed": "❌ failed", "running": "🔄 working",
          "planned": "🗺️ planned"}  # fmt: skip


def _cell(text: object, limit: int = 80) -> str:
    """Untrusted text made safe for one table cell: no secrets, tags, pipes or pings."""
    from kagura_engineer.github.sanitize import strip_invisible
    from kagura_engineer.proc import redact

    value = re.sub(r"\s+", " ", redact(strip_invisible(str(text)))).strip()
    value = value.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    value = re.sub(r"@(?=[A-Za-z0-9])", "@\u200b", value)
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _money(value: float | None) -> str:
    if value is None:
        return "—"
    return "<$0.01" if 0 < value < 0.01 else f"${value:,.2f}"


def render(result: GoalResult, status: str | None = None, run_url: str | None = None) -> str:
    """The table and its headline, as markdown (no marker)."""
    status = status or result.status
    shipped = sum(1 for r in result.rows if r.state == "shipped")
    lines = [f"### kagura-engineer · goal {_cell(result.milestone, 100)}", ""]
    facts = [f"**Status:** {STATUS.get(status, _cell(status, 30))}",
             f"{shipped} of {len(result.rows)} open issue{'s' if len(result.rows) != 1 else ''} shipped"]  # fmt: skip
    if result.closed:
        facts.append(f"{result.closed} closed")
    spend = f"spent {_money(result.cost_usd)}"
    if result.budget_usd:
        spend += f" of {_money(result.budget_usd)}"
    facts.append(spend)
    if run_url:
        facts.append(f"[workflow run]({_cell(run_url, 500)})")
    lines += [" · ".join(facts), ""]
    if result.rows:
        lines += ["| issue | title | state | PR | verdict | cost | depends on |", "|---|---|---|---|---|---|---|"]
        for row in result.rows:
            pr = "—"
            if row.pr_number:
                pr = f"[#{row.pr_number}]({_cell(row.pr_url, 500)})" if row.pr_url else f"#{row.pr_number}"
            state = f"{ICONS.get(row.state, '')} {row.state}".strip()
            if row.stacked_on:
                state += f" (stacked on #{row.stacked_on})"
            if row.reason and row.state not in ("shipped", "pending"):
                state += f": {_cell(row.reason, 160)}"
            deps = ", ".join(f"#{d}" for d in row.depends_on) or "—"
            lines.append(
                f"| #{row.issue} | {_cell(row.title)} | {state} | {pr} | {row.verdict or '—'} | "
                f"{_money(row.cost_usd)} | {deps} |"
            )
    else:
        lines.append("_No open issues in this milestone._")
    if result.reason and status in ("blocked", "failed"):
        heading = "Blocked" if status == "blocked" else "Failed"
        lines += ["", f"**{heading}:** {_cell(result.reason, 1000)}"]
        lines.append(
            f"**To resume:** re-run the workflow or `kagura-engineer goal '{_cell(result.milestone, 100)}'`; "
            "shipped issues are skipped and a halted one continues from its savepoint"
        )
    notes = [n for n in result.notes if n][:20]
    if notes:
        lines += ["", *(f"- {_cell(n, 300)}" for n in notes)]
    return "\n".join(lines) + "\n"


def write_summary(result: GoalResult, environ: Any, run_url: str | None = None) -> bool:
    """Append the table to `$GITHUB_STEP_SUMMARY` (False outside Actions)."""
    from kagura_engineer.workflow import ActionIO

    return ActionIO(environ).write_summary(render(result, run_url=run_url), append=True)


def update_comment(gh: Any, issue: int, key: str, result: GoalResult, status: str,
                   run_url: str | None = None) -> str | None:  # fmt: skip
    """Create or edit the one sticky comment on the tracking issue; a warning on failure."""
    from kagura_engineer.github.progress import marker

    body = marker(key) + "\n" + render(result, status=status, run_url=run_url)
    if len(body) > COMMENT_LIMIT:
        body = body[: COMMENT_LIMIT - 100].rsplit("\n", 1)[0] + "\n\n_(table truncated to fit GitHub's comment limit)_\n"
    try:
        with gh.tagged("progress"):
            gh.upsert_comment(issue, marker(key), body)
    except KaguraError as exc:
        return f"tracking comment on #{issue} not updated: {exc.message}"
    return None
