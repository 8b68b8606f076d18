"""One PR review per reviewed commit: pinned with `commit_id`, inline where GitHub allows it.

GitHub pins a review submitted without `commit_id` to whatever the head is by then, so the
reviewed SHA is always sent. Inline comments are accepted only on lines inside the diff's
hunks (else 422 "Line could not be resolved"): `diff_ranges` computes them the way GitHub
does (`git diff -U3 base...head`), findings on other lines (or on no line) go into the
summary. A body carries a hidden marker with the key and the SHA, so a re-run after a kill
between posting and the savepoint finds the review it already posted (written by our own
account: a copied marker does not count) instead of posting a second one.

Everything shown comes from a model reading untrusted code: it is redacted, stripped of
invisible characters and HTML, and kept from @-mentioning anyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kagura_engineer.errors import GitHubError
from kagura_engineer.review.envelope import Envelope, Finding

MAX_INLINE = 30
SEVERITY_ICONS = {"CRITICAL": "🛑", "HIGH": "🔴", "MEDIUM": "🟠", "LOW": "🟡", "INFO": "🔵"}
VERDICT_ICONS = {"green": "🟢", "yellow": "🟡", "red": "🔴"}

Ranges = dict[str, list[tuple[int, int]]]


def review_marker(key: str, sha: str) -> str:
    """`<!-- kagura:review/acme/widgets/pr-3@<sha> -->`: which job posted this, for which commit."""
    return f"<!-- kagura:{key}@{sha} -->"


def diff_ranges(tree: Any, base_sha: str, head_sha: str) -> Ranges:
    """{path: [(first, last), ...]}: the head-side lines of each hunk, 3 lines of context."""
    out = tree.run("-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "-U3",
                   f"{base_sha}...{head_sha}").stdout  # fmt: skip
    ranges: Ranges = {}
    path: str | None = None
    for line in out.splitlines():
        if line.startswith("+++ "):
            name = line[4:].rstrip("\t")
            path = name[2:] if name.startswith("b/") else None
        elif line.startswith("@@") and path is not None:
            match = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", line)
            if match:
                start, count = int(match.group(1)), int(match.group(2) or 1)
                if count > 0:
                    ranges.setdefault(path, []).append((start, start + count - 1))
    return ranges


def inside(finding: Finding, ranges: Ranges) -> bool:
    if finding.line is None or finding.line < 1:
        return False
    return any(a <= finding.line <= b for a, b in ranges.get(finding.file, []))


def split_findings(findings: Sequence[Finding], ranges: Ranges) -> tuple[list[Finding], list[Finding]]:
    """(inline, summary): inline only for lines GitHub can anchor, at most MAX_INLINE."""
    order = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3, "INFO": 4}
    ranked = sorted(findings, key=lambda f: order.get(f.severity, 5))
    inline = [f for f in ranked if inside(f, ranges)][:MAX_INLINE]
    chosen = {id(f) for f in inline}
    return inline, [f for f in ranked if id(f) not in chosen]


def safe(text: object, limit: int = 1500) -> str:
    """Model-made text for a GitHub body: no secrets, hidden characters, tags or @-pings."""
    from kagura_engineer.github.sanitize import strip_invisible
    from kagura_engineer.proc import redact

    value = redact(strip_invisible(str(text or ""))).strip()
    value = value.replace("<", "&lt;").replace(">", "&gt;")
    value = re.sub(r"@(?=[A-Za-z0-9])", "@\u200b", value)
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def _one_line(text: object, limit: int = 200) -> str:
    return re.sub(r"\s+", " ", safe(text, limit))


def comment_body(f: Finding) -> str:
    lines = [f"{SEVERITY_ICONS.get(f.severity, '')} **{f.severity}** · {_one_line(f.dimension, 40)} · "
             f"**{_one_line(f.title)}**", "", safe(f.rationale)]  # fmt: skip
    if f.suggestion:
        lines += ["", f"**Suggestion:** {safe(f.suggestion)}"]
    return "\n".join(lines).strip()


def _where(f: Finding) -> str:
    name = _one_line(f.file, 200).replace("`", "'") or "(no file)"
    return f"`{name}:{f.line}`" if f.line is not None else f"`{name}`"


def review_body(
    envelope: Envelope,
    summary_findings: Sequence[Finding],
    inline_count: int,
    *,
    key: str,
    sha: str,
    reviewer: str,
    loop: int | None = None,
) -> str:
    """The review's summary: verdict, counts, the findings that could not go inline."""
    s = envelope.summary
    severities = ", ".join(f"{n} {sev}" for sev, n in sorted(s.by_severity.items())) or "none"
    head = (f"### {VERDICT_ICONS[envelope.verdict]} kagura-engineer review: **{envelope.verdict}** "
            f"for {sha[:12]}")  # fmt: skip
    lines = [review_marker(key, sha), head, "",
             f"{s.total} finding(s), {s.blocking} blocking ({severities}) · reviewer `{reviewer}`"
             + (f" · after fix loop {loop}" if loop else "")]  # fmt: skip
    if inline_count:
        lines.append(f"{inline_count} finding(s) are inline comments on the diff.")
    if summary_findings:
        lines += ["", "#### Findings outside the diff" if inline_count else "#### Findings", ""]
        for f in summary_findings:
            lines.append(f"- {SEVERITY_ICONS.get(f.severity, '')} **{f.severity}** {_where(f)} — "
                         f"**{_one_line(f.title)}**: {_one_line(f.rationale, 600)}")  # fmt: skip
            if f.suggestion:
                lines.append(f"  - Suggestion: {_one_line(f.suggestion, 600)}")
    if envelope.verdict == "red":
        lines += ["", "Blocking findings (HIGH or CRITICAL) must be fixed before merging: "
                      "`/kagura fix` asks kagura-engineer to fix them."]  # fmt: skip
    return "\n".join(lines) + "\n"


def find_posted(gh: Any, pr: int, key: str, sha: str) -> dict | None:
    """Our review of `sha` on `pr`, if one was already posted (by marker, commit_id and author).

    A review by anyone else never counts, even with our marker: it would suppress ours.
    """
    marker = review_marker(key, sha)
    for review in gh.list_reviews(pr):
        if review.get("commit_id") == sha and marker in (review.get("body") or "") and gh.is_own(review):
            return review
    return None


def post_review(
    gh: Any,
    pr: int,
    sha: str,
    envelope: Envelope,
    ranges: Ranges,
    *,
    key: str,
    reviewer: str,
    loop: int | None = None,
) -> tuple[dict, bool]:
    """Post the review of `sha` once: `(review, created)`. An earlier post of it is reused."""
    existing = find_posted(gh, pr, key, sha)
    if existing is not None:
        return existing, False
    inline, rest = split_findings(envelope.findings, ranges)
    comments = [{"path": f.file, "line": f.line, "side": "RIGHT", "body": comment_body(f)} for f in inline]
    body = review_body(envelope, rest, len(inline), key=key, sha=sha, reviewer=reviewer, loop=loop)
    try:
        return gh.create_review(pr, sha, body, "COMMENT", comments or None), True
    except GitHubError as exc:
        if exc.status != 422 or not comments:
            raise
    # GitHub could not anchor a comment after all: everything goes into the summary
    again = find_posted(gh, pr, key, sha)
    if again is not None:
        return again, False
    body = review_body(envelope, list(envelope.findings), 0, key=key, sha=sha, reviewer=reviewer, loop=loop)
    return gh.create_review(pr, sha, body, "COMMENT", None), True
