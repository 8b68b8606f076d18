"""Setup's output: one line per step (with the commands run or, with --dry-run, to run), or JSON."""

from __future__ import annotations

import json

from kagura_engineer.setup.model import SetupReport, StepStatus


def text(report: SetupReport) -> str:
    width_status = max(len(s.value) for s in StepStatus)
    width_name = max((len(r.name) for r in report.results), default=4)
    indent = " " * (width_status + 2 + width_name + 2)
    lines = []
    for r in report.results:
        lines.append(f"{r.status.value:<{width_status}}  {r.name:<{width_name}}  {r.detail}")
        if report.dry_run:
            lines += [f"{indent}$ {c}" for c in r.commands]
        if r.hint:
            lines.append(f"{indent}next: {r.hint}")
    verdict = {0: "ok", 1: "failed", 2: "needs you"}[report.exit_code]
    lines += ["", f"{'dry run: ' if report.dry_run else ''}{verdict}"]
    return "\n".join(lines)


def as_json(report: SetupReport) -> str:
    return json.dumps(report.to_json(), indent=2)
