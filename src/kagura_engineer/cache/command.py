"""`kagura-engineer cache restore|save`: carry the local memory DB in the Actions cache.

An unusable cache is a warning, never a failure: exit 0 with one `::warning::` line when
GITHUB_ACTIONS=true (else `warning: …` on stderr). With `--json`, stdout is exactly one JSON
object (`op`, `hit`, `key`, `matched_key`, `version`, `size_bytes`, and `warning` when there is
one); the `::warning::` line then goes to stderr, where the runner reads workflow commands too.
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="op", metavar="OP", required=True)
    for name, summary in (
        ("restore", "restore the memory DB from the newest matching cache entry"),
        ("save", "save the memory DB under this run attempt's cache key"),
    ):
        sub = subs.add_parser(name, help=summary, description=summary)
        # The common flags after the operation too (`cache save --json`); SUPPRESS keeps
        # a value given before it.
        sub.add_argument("-c", "--config", metavar="PATH", default=argparse.SUPPRESS, help="repo.yaml to use")
        sub.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object"
        )


def main(args: argparse.Namespace) -> int:
    import json
    import os

    from kagura_engineer.cache.carry import restore_memory, save_memory
    from kagura_engineer.config import load_config
    from kagura_engineer.proc import redact

    config = load_config(args.config)
    operation = restore_memory if args.op == "restore" else save_memory
    result = operation(config, os.environ)
    if result.warning:
        message = redact(result.warning)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            from kagura_engineer.workflow import format_command

            line = format_command("warning", message, title="memory cache")
            print(line, file=sys.stderr if args.json else sys.stdout, flush=True)
        else:
            print(f"warning: {message}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    if result.skipped:
        print(f"cache {result.op}: skipped ({result.skipped})")
    elif result.op == "restore" and result.hit:
        how = "exact key" if result.matched_key == result.key else "restore key"
        print(f"cache restore: hit {result.matched_key} ({how}, {result.size_bytes} bytes) -> {result.path}")
        if result.backup:
            print(f"cache restore: the previous local DB is kept as {result.backup}")
    elif result.op == "restore" and not result.warning:
        print(f"cache restore: miss for {result.key} (the run starts with the DB it has)")
    elif result.op == "save" and result.hit:
        print(f"cache save: saved {result.path} as {result.key} ({result.size_bytes} bytes)")
    return 0
