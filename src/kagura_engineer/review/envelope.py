"""The review envelope (schema_version 1) and its strict reading.

Both reviewers answer with the same JSON document, the one `kagura-code-reviewer --format
json` writes:

    {"schema_version": 1, "verdict": "green|yellow|red",
     "summary": {"total", "blocking", "by_severity", "incomplete"},
     "findings": [{"dimension", "severity", "file", "line", "title", "rationale", "suggestion", ...}]}

`severity` is INFO|LOW|MEDIUM|HIGH|CRITICAL; HIGH and above block. `parse_envelope` accepts
only a document that is complete and consistent (the verdict agrees with the findings, the
summary with the list) and not `incomplete`; anything else raises `EnvelopeError`, which the
caller reports as "could not review" — never as a guessed verdict.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA_VERSION = 1
SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
BLOCKING = ("HIGH", "CRITICAL")
VERDICTS = ("green", "yellow", "red")


class EnvelopeError(ValueError):
    """The reviewer's answer cannot be used as a verdict (missing, malformed, incomplete)."""


class Finding(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    dimension: str = Field(min_length=1)
    severity: Literal["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
    file: str
    line: int | None
    title: str = Field(min_length=1)
    rationale: str = ""
    suggestion: str = ""

    @field_validator("severity", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("line", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool) or (value is not None and not isinstance(value, int)):
            raise ValueError("line must be an integer or null")
        return value

    @property
    def blocking(self) -> bool:
        return self.severity in BLOCKING

    @property
    def signature(self) -> tuple[str, str]:
        """What makes two findings "the same" across fix loops: (file, title)."""
        return (self.file.strip(), " ".join(self.title.lower().split()))


class Summary(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    total: int = Field(ge=0)
    blocking: int = Field(ge=0)
    by_severity: dict[str, int]
    incomplete: bool


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    schema_version: Literal[1]
    verdict: Literal["green", "yellow", "red"]
    summary: Summary
    findings: list[Finding]

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    def signature(self) -> list[list[str]]:
        """The blocking findings' (file, title) pairs, sorted: equal lists = no progress."""
        return [list(s) for s in sorted({f.signature for f in self.blocking})]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def derive_verdict(findings: list[Finding]) -> str:
    if any(f.blocking for f in findings):
        return "red"
    return "yellow" if findings else "green"


def empty_green() -> Envelope:
    """The envelope for an empty diff (the reviewer prints "No changes to review.")."""
    return Envelope(
        schema_version=1, verdict="green", findings=[],
        summary=Summary(total=0, blocking=0, by_severity={}, incomplete=False),
    )  # fmt: skip


def parse_envelope(raw: str | bytes | dict[str, Any] | None) -> Envelope:
    """A complete, consistent schema_version 1 envelope, else EnvelopeError saying why."""
    if raw is None:
        raise EnvelopeError("the reviewer wrote no report")
    if isinstance(raw, (str, bytes)):
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"the report is not JSON ({exc.__class__.__name__})") from None
    else:
        data = raw
    if not isinstance(data, dict):
        raise EnvelopeError("the report is not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise EnvelopeError(f"unsupported schema_version {version!r} (expected {SCHEMA_VERSION})")
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "envelope"
        raise EnvelopeError(f"malformed report: {where}: {err.get('msg', 'invalid')}") from None
    if envelope.summary.incomplete or any(f.dimension == "meta" for f in envelope.findings):
        raise EnvelopeError("the review is incomplete (summary.incomplete): the reviewer did not finish")
    if envelope.verdict != derive_verdict(envelope.findings):
        raise EnvelopeError(
            f"inconsistent report: verdict {envelope.verdict} but the findings say {derive_verdict(envelope.findings)}"
        )
    if envelope.summary.total != len(envelope.findings) or envelope.summary.blocking != len(envelope.blocking):
        raise EnvelopeError("inconsistent report: the summary does not count the findings")
    return envelope


#: The JSON schema given to Claude as reviewer (`--json-schema`): the same envelope.
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "schema_version": {"type": "integer", "enum": [1]},
        "verdict": {"type": "string", "enum": list(VERDICTS)},
        "summary": {
            "type": "object",
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "blocking": {"type": "integer", "minimum": 0},
                "by_severity": {"type": "object", "additionalProperties": {"type": "integer"}},
                "incomplete": {"type": "boolean"},
            },
            "required": ["total", "blocking", "by_severity", "incomplete"],
        },
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "dimension": {"type": "string"},
                    "severity": {"type": "string", "enum": list(SEVERITIES)},
                    "file": {"type": "string"},
                    "line": {"type": ["integer", "null"]},
                    "title": {"type": "string"},
                    "rationale": {"type": "string"},
                    "suggestion": {"type": "string"},
                },
                "required": ["dimension", "severity", "file", "line", "title", "rationale", "suggestion"],
            },
        },
    },
    "required": ["schema_version", "verdict", "summary", "findings"],
}
