"""The task prompt: the issue and recalled memory as fenced, sanitized reference data.

The standing rules the agent follows live with the driver (`agent.argv.HARNESS_RULES`).

Everything that came from outside (issue title and body, recalled lessons, check output)
is cleaned of hidden content and fenced; the instructions are ours alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from kagura_engineer.memory.base import Memory
from kagura_engineer.memory.lessons import render_memories


def _fence(label: str, text: str) -> str:
    from kagura_engineer.github.sanitize import fence_untrusted

    return fence_untrusted(label, text)


def _clean(text: str) -> str:
    from kagura_engineer.github.sanitize import clean_untrusted

    return clean_untrusted(text or "")




def task_prompt(
    number: int,
    title: str,
    body: str,
    memories: Sequence[Memory] = (),
    checks: Sequence[str] = (),
) -> str:
    """The first prompt of an implement attempt."""
    sections = [
        f"Implement GitHub issue #{number} in this repository.",
        _fence(f"issue #{number} (untrusted)", f"Title: {_clean(title)}\n\n{_clean(body)}"),
    ]
    if memories:
        sections.append(
            "Lessons the team recorded before (may or may not apply):\n"
            + _fence("recalled memory (untrusted)", _clean(render_memories(memories)))
        )
    if checks:
        listed = "\n".join(f"- `{c}`" for c in checks)
        sections.append(f"The harness will run these checks afterwards; you may run them too:\n{listed}")
    sections.append("Make the change, keep it focused, then report with the StructuredOutput tool.")
    return "\n\n".join(sections)


def fix_prompt(failing: Sequence[tuple[str, str]]) -> str:
    """A follow-up prompt (same session) after the harness's checks failed."""
    blocks = [
        f"Check `{command}` failed:\n" + _fence("check output (untrusted)", _clean(tail))
        for command, tail in failing
    ]
    return (
        "The harness ran the configured checks on your change and some failed.\n\n"
        + "\n\n".join(blocks)
        + "\n\nFix the cause (not the checks), then report again with the StructuredOutput tool."
    )
