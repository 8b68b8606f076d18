"""Which milestone a goal drives when none is named (a schedule, a bare `/kagura goal`)."""

from __future__ import annotations


def nearest_due_milestone(milestones: list[dict]) -> str | None:
    """The title of the open milestone with the earliest due date (None when none has one)."""
    dated = [m for m in milestones if m.get("due_on") and m.get("state", "open") == "open" and m.get("title")]
    if not dated:
        return None
    return str(min(dated, key=lambda m: (str(m["due_on"]), int(m.get("number") or 0)))["title"])
