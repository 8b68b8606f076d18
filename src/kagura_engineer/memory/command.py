"""`kagura-engineer memory recall|remember|export|import|stats` on the configured backend."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kagura_engineer.memory.base import Memory, MemoryClient

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def add_common(parser: argparse.ArgumentParser) -> None:
    """-c/--config and --json also after the sub-command (`memory recall -c x.yaml q`)."""
    parser.add_argument("-c", "--config", metavar="PATH", default=argparse.SUPPRESS, help="repo.yaml to use")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON on stdout")


def _importance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100, not {text}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = subs.add_parser(
        "recall",
        help="search memories (by meaning and keywords)",
        description="the memories that best match QUERY: by meaning (sentence vectors) and keywords "
        "(FTS5); keyword-only without numpy/tokenizers or with KAGURA_MEMORY_SEMANTIC=off",
    )
    p.add_argument("query", metavar="QUERY")
    p.add_argument("-k", type=_positive, default=5, metavar="N", help="how many (default 5, at most 100)")
    p.add_argument(
        "--type", dest="types", action="append", metavar="TYPE", help="only this type (repeatable)"
    )
    p.add_argument("--tags", metavar="A,B", help="only memories with any of these tags")
    add_common(p)

    p = subs.add_parser("remember", help="store a memory", description="store one memory; prints its id")
    p.add_argument("--summary", required=True, help="one line: what was learned")
    p.add_argument("--content", help="the full text (default: the summary; '-' reads stdin)")
    p.add_argument("--type", required=True, help="e.g. lesson, failure, fix, decision, note")
    p.add_argument("--tags", metavar="A,B", help="comma-separated tags")
    p.add_argument("--importance", type=_importance, default=0.5, metavar="0..1", help="default 0.5")
    p.add_argument("--details", metavar="JSON", help="a JSON object stored with the memory")
    add_common(p)

    p = subs.add_parser("export", help="write every memory to a JSONL file", description="export to JSONL")
    p.add_argument("file", metavar="FILE.jsonl", help="'-' for stdout")
    add_common(p)

    p = subs.add_parser("import", help="read memories from a JSONL file", description="import from JSONL")
    p.add_argument("file", metavar="FILE.jsonl", help="'-' for stdin")
    p.add_argument(
        "--skip-invalid", action="store_true", help="skip (and report) bad lines instead of stopping"
    )
    add_common(p)

    p = subs.add_parser(
        "stats",
        help="counts, sizes, vector coverage",
        description="counts and sizes of the memory store; locally also the embedding model, "
        "vector coverage and the vector index",
    )
    add_common(p)


@contextmanager
def opened(args: argparse.Namespace, *, recall: bool = False) -> Iterator[MemoryClient]:
    """The configured backend, closed afterwards. With `recall`, a local store's sentence
    encoder starts loading on a background thread while the store opens."""
    from kagura_engineer.config_file import find_config

    if find_config(args.config) is None:
        # No repo.yaml: the embedded defaults (the local store at its default path) need no
        # validation, so pydantic and the config models (~0.2 s) are not imported.
        from kagura_engineer.memory.local import open_local

        if recall:
            _preload_encoder()
        memory: MemoryClient = open_local()
    else:
        from kagura_engineer.config import load_config
        from kagura_engineer.memory.factory import open_memory

        config = load_config(args.config)
        if recall and config.memory_backend == "local":
            _preload_encoder()
        memory = open_memory(config)
    try:
        yield memory
    finally:
        memory.close()


def _preload_encoder() -> None:
    from kagura_engineer.memory import embed
    from kagura_engineer.memory.local import semantic_by_default

    if semantic_by_default():
        embed.preload()


def main(args: argparse.Namespace) -> int:
    handler = {
        "recall": _recall, "remember": _remember, "export": _export, "import": _import, "stats": _stats,
    }[args.action]  # fmt: skip
    return handler(args)


def clean(text: str) -> str:
    """Stored text is untrusted: no terminal control sequences reach the screen."""
    return _CONTROL.sub("", text)


def _tags(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _recall(args: argparse.Namespace) -> int:
    from kagura_engineer.errors import ConfigError

    if not args.query.strip():
        raise ConfigError("memory recall: QUERY must not be empty")
    filters: dict[str, Any] = {}
    if args.types:
        filters["type"] = args.types
    if _tags(args.tags):
        filters["tags"] = _tags(args.tags)
    with opened(args, recall=True) as memory:
        found = memory.recall(args.query, k=args.k, filters=filters or None)
    if args.json:
        print(json.dumps([m.to_json() for m in found], ensure_ascii=False, indent=2))
        return 0
    if not found:
        print("no matching memories")
        return 0
    for n, m in enumerate(found, start=1):
        _print_memory(n, m)
    return 0


def _print_memory(n: int, m: Memory) -> None:
    print(f"{n}. [{clean(m.type)}] {clean(m.summary)}")
    first = clean(m.content.strip().splitlines()[0]) if m.content.strip() else ""
    if first and first != clean(m.summary):
        print(f"   {first[:160]}{'…' if len(first) > 160 else ''}")
    tags = f"  tags: {', '.join(clean(t) for t in m.tags)}" if m.tags else ""
    print(f"   score {m.score:.3g}  importance {m.importance:.2f}  id {m.id}{tags}")


def _remember(args: argparse.Namespace) -> int:
    from kagura_engineer.errors import ConfigError

    content = args.content
    if content == "-":
        content = sys.stdin.read()
    if content is None:
        content = args.summary
    if not args.summary.strip():
        raise ConfigError("memory remember: --summary must not be empty")
    if not args.type.strip():
        raise ConfigError("memory remember: --type must not be empty")
    details = None
    if args.details:
        try:
            details = json.loads(args.details)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"memory remember: --details is not JSON ({exc.msg})") from None
        if not isinstance(details, dict):
            raise ConfigError("memory remember: --details must be a JSON object")
    with opened(args) as memory:
        memory_id = memory.remember(
            args.summary,
            content,
            args.type.strip(),
            tags=_tags(args.tags),
            importance=args.importance,
            details=details,
        )
    print(json.dumps({"id": memory_id}) if args.json else memory_id)
    return 0


def _export(args: argparse.Namespace) -> int:
    import tempfile

    from kagura_engineer.errors import ConfigError
    from kagura_engineer.memory.jsonl import export_jsonl

    if args.file == "-":
        if args.json:
            raise ConfigError("memory export: --json cannot be combined with FILE '-' (stdout)")
        with opened(args) as memory:
            count = export_jsonl(memory, sys.stdout)
        print(f"exported {count} memories", file=sys.stderr)
        return 0
    dest = Path(args.file)
    if dest.is_dir():
        raise ConfigError(f"{dest}: is a directory")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    except OSError as exc:
        raise ConfigError(f"{dest}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out, opened(args) as memory:
            count = export_jsonl(memory, out)
        os.replace(tmp, dest)  # all or nothing: a failed export leaves no partial file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if args.json:
        print(json.dumps({"exported": count, "file": str(dest)}))
    else:
        print(f"exported {count} memories to {dest}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from kagura_engineer.errors import ConfigError
    from kagura_engineer.memory.jsonl import import_jsonl

    if args.file == "-":
        lines = sys.stdin.read().splitlines()
        source = "<stdin>"
    else:
        try:
            lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ConfigError(f"{args.file}: no such file") from None
        except IsADirectoryError:
            raise ConfigError(f"{args.file}: is a directory") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{args.file}: not UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"{args.file}: cannot read ({exc.strerror})") from None
        source = args.file

    def progress(done: int, total: int) -> None:
        print(f"imported {done}/{total}", file=sys.stderr, flush=True)

    with opened(args) as memory:
        report = import_jsonl(memory, lines, skip_invalid=args.skip_invalid, source=source, progress=progress)
    for number, problem in report.skipped:
        print(f"warning: {source}:{number}: skipped: {problem}", file=sys.stderr)
    if args.json:
        skipped = [{"line": n, "problem": p} for n, p in report.skipped]
        print(
            json.dumps(
                {"imported": report.imported, "already_stored": report.already_stored, "skipped": skipped}
            )
        )
    else:
        extra = [f"skipped {report.already_stored} already stored"] if report.already_stored else []
        extra += [f"{len(report.skipped)} invalid lines skipped"] if report.skipped else []
        print(f"imported {report.imported} memories" + (f" ({', '.join(extra)})" if extra else ""))
    return 0


def _stats(args: argparse.Namespace) -> int:
    with opened(args) as memory:
        stats_fn = getattr(memory, "stats", None)
        stats = stats_fn() if callable(stats_fn) else {"backend": type(memory).__name__}
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2, default=str))
        return 0
    for key, value in stats.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
            print(f"{key:16} {inner}")
        else:
            print(f"{key:16} {'-' if value is None else value}")
    return 0
