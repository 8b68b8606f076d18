"""A job's identity: `<kind>/<owner>/<repo>/<target>`, e.g. `run/acme/widgets/issue-42`.

The same key names a job's savepoint, its lease and its progress comment's hidden marker, so
a re-run of the same job finds all three. Formatted and parsed here, and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(
    r"^(?P<kind>[a-z][a-z0-9_-]*)/(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)"
    r"/(?P<target>[^/\s\x00-\x1f](?:[^/\x00-\x1f]*[^/\s\x00-\x1f])?)$"
)
MAX_LENGTH = 200


@dataclass(frozen=True)
class JobKey:
    kind: str  # run | review | goal | eval | doctor
    owner: str
    repo: str
    target: str  # issue-42, pr-7, branch-<slug>, sha-<12>, a milestone, evaluation

    def __str__(self) -> str:
        return f"{self.kind}/{self.owner}/{self.repo}/{self.target}"

    @classmethod
    def parse(cls, text: str) -> JobKey:
        """The key `text` names; ValueError when it is not of the form above (or too long)."""
        match = _PATTERN.match(text) if isinstance(text, str) and len(text) <= MAX_LENGTH else None
        if match is None:
            raise ValueError(f"not a job key: {text!r}")
        return cls(**match.groupdict())

    @staticmethod
    def thread(kind: str, number: int) -> str:
        """The target naming an issue or a pull request: `issue-42`, `pr-7` (`kind`: issue | pr)."""
        return f"{kind}-{number}"

    @classmethod
    def run(cls, owner: str, repo: str, issue: int) -> JobKey:
        return cls("run", owner, repo, cls.thread("issue", issue))

    @classmethod
    def review(cls, owner: str, repo: str, target: str) -> JobKey:
        """`target`: the review target's slug (`pr-7`, `branch-...`, `sha-...`)."""
        return cls("review", owner, repo, target)

    @classmethod
    def review_pr(cls, owner: str, repo: str, number: int) -> JobKey:
        return cls.review(owner, repo, cls.thread("pr", number))

    @classmethod
    def goal(cls, owner: str, repo: str, milestone: str) -> JobKey:
        return cls("goal", owner, repo, milestone)

    @classmethod
    def eval(cls, owner: str, repo: str) -> JobKey:
        return cls("eval", owner, repo, "evaluation")

    @classmethod
    def doctor(cls, owner: str, repo: str, kind: str, number: int) -> JobKey:
        """`kind`: `issue` or `pr`, the thread doctor was asked on."""
        return cls("doctor", owner, repo, cls.thread(kind, number))
