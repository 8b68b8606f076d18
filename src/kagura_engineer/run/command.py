"""`kagura-engineer run <issue>`: an issue becomes a pull request.

`execute(config, RunOptions) -> RunOutcome` is the command; `main(args)` reads the flags,
calls it and prints. Exit 0 shipped · 1 failed · 2 blocked (red, needs a person) or busy
(another job holds it), or no claude / no model credential (checked first, before any
network call).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.run.loop import RunOptions  # the options (run/loop.py: the phase machine's own)
    from kagura_engineer.run.outcome import RunOutcome


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("issue", type=int, help="issue number")
    parser.add_argument(
        "--base",
        metavar="BRANCH",
        help="base branch (default: repo.yaml base_branch, else the default branch)",
    )
    parser.add_argument(
        "--max-usd",
        type=float,
        metavar="USD",
        help="stop before spending more than this (default: budget.max_usd)",
    )
    parser.add_argument(
        "--max-turns",
        type=int,
        metavar="N",
        help="stop before this many model turns (default: budget.max_turns)",
    )
    parser.add_argument("--draft", action="store_true", help="open the pull request as a draft, even when green")
    parser.add_argument("--no-remember", action="store_true", help="do not write the outcome to memory")
    parser.add_argument(
        "--unattended", action="store_true", help="never wait for input; halt as blocked instead"
    )


def execute(config: Config, options: RunOptions, *, live: bool = False) -> RunOutcome:
    """Drive the issue to a pull request; `live` writes phase lines to stderr as it goes."""
    from kagura_engineer.agent.preflight import require_agent
    from kagura_engineer.run.context import build_context
    from kagura_engineer.run.loop import run_issue

    require_agent()
    with build_context(config, options, live=live) as ctx:
        return run_issue(ctx)


def main(args: argparse.Namespace) -> int:
    import json
    import os
    import sys

    from kagura_engineer.config import load_config
    from kagura_engineer.run.loop import RunOptions
    from kagura_engineer.workflow import write_untrusted

    config = load_config(args.config)
    options = RunOptions(
        issue=args.issue,
        base=args.base,
        max_usd=args.max_usd,
        max_turns=args.max_turns,
        remember=not args.no_remember,
        draft=args.draft,
        unattended=args.unattended or os.environ.get("GITHUB_ACTIONS") == "true",
        run_id=os.environ.get("GITHUB_RUN_ID") or None,
    )
    outcome = execute(config, options, live=not args.json)
    if args.json:
        print(json.dumps(outcome.to_json()))
    else:
        where = f" → {outcome.pr_url}" if outcome.pr_url else ""
        reason = f": {outcome.reason}" if outcome.reason else ""
        verdict = outcome.verdict or "no verdict"
        write_untrusted(f"{outcome.status} #{outcome.issue} ({verdict}){where}{reason}", sys.stderr)
    return outcome.exit_code
