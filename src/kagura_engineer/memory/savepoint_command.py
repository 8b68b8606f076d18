"""`kagura-engineer savepoint list [PREFIX] | show KEY | clear KEY [--force]`."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from kagura_engineer.memory.command import add_common, clean, opened

if TYPE_CHECKING:
    from kagura_engineer.memory.savepoint import Savepoint


def configure(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = subs.add_parser("list", help="list savepoints", description="savepoints whose key starts with PREFIX")
    p.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="e.g. run/acme/widgets/")
    add_common(p)
    p = subs.add_parser("show", help="print one savepoint", description="print one savepoint")
    p.add_argument("key", metavar="KEY", help="e.g. run/acme/widgets/issue-42")
    add_common(p)
    p = subs.add_parser(
        "clear",
        help="delete a savepoint and its lease",
        description="delete a savepoint (the next run starts that target from scratch)",
    )
    p.add_argument("key", metavar="KEY")
    p.add_argument("--force", action="store_true", help="even while a live job holds its lease")
    add_common(p)


def main(args: argparse.Namespace) -> int:
    return {"list": _list, "show": _show, "clear": _clear}[args.action](args)


def _lease_text(sp: Savepoint) -> str:
    if sp.lease is None:
        return "-"
    state = "expired" if sp.lease.expired() else "held"
    return f"{state}: {sp.lease.describe()}"


def _list(args: argparse.Namespace) -> int:
    from kagura_engineer.memory.savepoint import Savepoint, SavepointStore

    with opened(args) as memory:
        entries = SavepointStore(memory).scan(args.prefix)
    if args.json:
        out = [
            sp.model_dump(mode="json") if isinstance(sp, Savepoint) else {"key": key, "error": sp.message}
            for key, sp in entries
        ]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if not entries:
        print("no savepoints" + (f" under {args.prefix}" if args.prefix else ""))
        return 0
    for key, sp in entries:
        if not isinstance(sp, Savepoint):
            print(f"{clean(key)}  unreadable: {clean(sp.message)}")
            continue
        updated = sp.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") if sp.updated_at else "-"
        print(
            f"{clean(key)}  phase {clean(sp.phase or '-')}  verdict {sp.verdict or '-'}  "
            f"updated {updated}  lease {clean(_lease_text(sp))}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from kagura_engineer.memory.savepoint import SavepointNotFound, SavepointStore

    with opened(args) as memory:
        sp = SavepointStore(memory).load(args.key)
    if sp is None:
        raise SavepointNotFound(f"no savepoint {args.key}", hint="list them: kagura-engineer savepoint list")
    data = sp.model_dump(mode="json")
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    for name, value in data.items():
        if name == "lease":
            value = _lease_text(sp)
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False) if value else "-"
        print(f"{name:17} {clean('-' if value is None else str(value))}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    from kagura_engineer.memory.savepoint import SavepointNotFound, SavepointStore

    with opened(args) as memory:
        existed = SavepointStore(memory).clear(args.key, force=args.force)
    if not existed:
        raise SavepointNotFound(f"no savepoint {args.key}", hint="list them: kagura-engineer savepoint list")
    print(json.dumps({"cleared": args.key}) if args.json else f"cleared {args.key}")
    return 0
