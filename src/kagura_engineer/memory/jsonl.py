"""`memory export` / `memory import`: one JSON object per line.

A record is `{"summary", "content", "type", "tags", "importance", "details", "created_at"}`;
`content` defaults to the summary, `tags`/`importance`/`details`/`created_at` are optional.
Export writes the fields in that order, compact, UTF-8, oldest memory first, so export →
import into an empty store → export gives the same bytes. Import validates every line first:
any bad line stops it (nothing imported) unless `skip_invalid`, which skips and reports them.

Backends: export needs `iter_memories()` (both backends have it); import uses
`remember_many(records)` when the backend has it (one transaction per batch, keeps
`created_at`), else `remember` one record at a time. "Already stored?" asks `stored(pairs)`
(the local store: an indexed lookup), else reads `iter_memories()` once (Memory Cloud); a
backend that can do neither imports without that check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kagura_engineer.errors import ConfigError, MemoryStoreError
from kagura_engineer.memory.base import Memory, MemoryClient

#: Records per transaction. With sentence vectors a batch of real memories takes ~5 s to embed.
BATCH = 250
#: Progress is reported every this many records, or after a batch once this long has passed.
PROGRESS_EVERY = 5000
PROGRESS_SECONDS = 5.0


class Record(BaseModel):
    """One line of a memory JSONL file."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1)
    content: str | None = None
    type: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    details: dict[str, Any] | None = None
    created_at: str | None = None

    @field_validator("summary", "type")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("created_at")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def to_remember(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "content": self.summary if self.content is None else self.content,
            "type": self.type,
            "tags": self.tags,
            "importance": self.importance,
            "details": self.details,
            "created_at": self.created_at,
        }


@dataclass
class ImportReport:
    imported: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # invalid lines
    already_stored: int = 0  # records with the type and content of a stored memory (or earlier line)


def record_line(memory: Memory) -> str:
    """The export line of one memory (no newline)."""
    record: dict[str, Any] = {
        "summary": memory.summary,
        "content": memory.content,
        "type": memory.type,
        "tags": list(memory.tags),
        "importance": memory.importance,
    }
    if memory.details is not None:
        record["details"] = memory.details
    if memory.created_at:
        record["created_at"] = memory.created_at
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def export_jsonl(memory: MemoryClient, out: IO[str]) -> int:
    """Write every memory to `out`, oldest first. Returns how many."""
    iter_memories = getattr(memory, "iter_memories", None)
    if not callable(iter_memories):
        raise MemoryStoreError(f"this memory backend ({type(memory).__name__}) cannot list its memories")
    count = 0
    for item in iter_memories():
        out.write(record_line(item) + "\n")
        count += 1
    return count


def parse_lines(lines: Iterable[str]) -> tuple[list[Record], list[tuple[int, str]]]:
    """Validate every line: (records, [(line number, problem)]). Blank lines are ignored."""
    records: list[Record] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append((number, f"not JSON ({exc.msg})"))
            continue
        if not isinstance(data, dict):
            bad.append((number, "not a JSON object"))
            continue
        try:
            records.append(Record.model_validate(data))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ())) or "record"
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            bad.append((number, f"{where}: {msg}"))
    return records, bad


def _key(record: Record) -> tuple[str, str]:
    args = record.to_remember()
    return args["type"].strip(), args["content"]


def _new_records(memory: MemoryClient, records: list[Record], report: ImportReport) -> list[Record]:
    """`records` without those already stored or repeated; counts them in `report.already_stored`."""
    keys = [_key(r) for r in records]
    stored_fn = getattr(memory, "stored", None)
    if callable(stored_fn):
        stored = set(stored_fn(set(keys)))
    else:
        stored = _listed(memory)
    seen: set[tuple[str, str]] = set()
    fresh: list[Record] = []
    for record, key in zip(records, keys, strict=True):
        if key in stored or key in seen:
            report.already_stored += 1
            continue
        seen.add(key)
        fresh.append(record)
    return fresh


def _listed(memory: MemoryClient) -> set[tuple[str, str]]:
    """Every stored (type, content), read through `iter_memories()`; empty when it cannot list."""
    iter_memories = getattr(memory, "iter_memories", None)
    if not callable(iter_memories):
        return set()
    try:
        return {(m.type.strip(), m.content) for m in iter_memories()}
    except MemoryStoreError:
        return set()  # e.g. Cloud unreachable: the import goes on (to the outbox) unchecked


def _batches(records: list[Record]) -> Iterator[list[Record]]:
    for start in range(0, len(records), BATCH):
        yield records[start : start + BATCH]


def import_jsonl(
    memory: MemoryClient,
    lines: Iterable[str],
    *,
    skip_invalid: bool = False,
    source: str = "input",
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate then store every record. ConfigError (nothing stored) on a bad line unless
    `skip_invalid`. `progress(done, total)` is called every PROGRESS_EVERY records, or
    PROGRESS_SECONDS, whichever comes first, and once at the end."""
    records, bad = parse_lines(lines)
    if bad and not skip_invalid:
        number, problem = bad[0]
        more = f" (and {len(bad) - 1} more bad lines)" if len(bad) > 1 else ""
        raise ConfigError(
            f"{source}:{number}: {problem}{more}; nothing imported",
            hint="fix the file, or pass --skip-invalid to import the valid lines",
        )
    report = ImportReport(skipped=bad)
    records = _new_records(memory, records, report)
    total = len(records)
    many = getattr(memory, "remember_many", None)
    last_reported, last_time = 0, time.monotonic()
    for batch in _batches(records):
        if callable(many):
            many([r.to_remember() for r in batch])
        else:
            for r in batch:
                args = r.to_remember()
                args.pop("created_at")
                memory.remember(**args)
        report.imported += len(batch)
        if progress and (
            report.imported - last_reported >= PROGRESS_EVERY
            or time.monotonic() - last_time >= PROGRESS_SECONDS
        ):
            progress(report.imported, total)
            last_reported, last_time = report.imported, time.monotonic()
    if progress and last_reported and last_reported != report.imported:
        progress(report.imported, total)
    return report
