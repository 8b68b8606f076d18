"""Envelopes for scripted reviewers: findings in, a consistent review envelope out."""

from __future__ import annotations

from typing import Any

from kagura_engineer.review.envelope import Envelope, Finding, Summary, derive_verdict


def build_envelope(findings: list[dict[str, Any]]) -> Envelope:
    """An envelope around findings (verdict and summary derived): for scripted reviewers."""
    parsed = [Finding.model_validate(f) for f in findings]
    by_severity: dict[str, int] = {}
    for f in parsed:
        by_severity[f.severity] = by_severity.get(f.severity, 0) + 1
    return Envelope(
        schema_version=1, verdict=derive_verdict(parsed), findings=parsed,
        summary=Summary(total=len(parsed), blocking=sum(f.blocking for f in parsed), by_severity=by_severity,
                        incomplete=False),
    )  # fmt: skip
