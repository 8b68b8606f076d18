"""The closing report the agent must give, requested with `--json-schema`.

With `--json-schema` the CLI adds a `StructuredOutput` tool whose input schema is this
schema, and the run ends when the model calls it; the `result` line then carries the
validated input as `structured_output`. The harness reads its status from there and from
the result's error fields, never from phrases in the model's prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("done", "blocked", "needs_input")

REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {
            "type": "string",
            "enum": list(STATUSES),
            "description": "done: the issue is implemented; blocked: something outside your control "
            "stops you; needs_input: a person must decide something first",
        },
        "summary": {"type": "string", "description": "what you changed and why, for the pull request"},
        "files_changed": {"type": "array", "items": {"type": "string"}, "description": "paths relative to the repository root"},
        "notes": {"type": "string", "description": "anything a reviewer should know: open questions, what blocked you"},
    },
    "required": ["status", "summary", "files_changed"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class ClosingReport:
    status: str
    summary: str = ""
    files_changed: list[str] = field(default_factory=list)
    notes: str = ""


def parse_report(value: Any) -> ClosingReport | None:
    """The report from a `structured_output` value, or None when it is not a valid one."""
    if not isinstance(value, dict) or value.get("status") not in STATUSES:
        return None
    files = value.get("files_changed")
    return ClosingReport(
        status=str(value["status"]),
        summary=str(value.get("summary") or ""),
        files_changed=[str(f) for f in files] if isinstance(files, list) else [],
        notes=str(value.get("notes") or ""),
    )
