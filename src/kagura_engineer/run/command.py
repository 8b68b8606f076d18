"""`kagura-engineer run <issue>`: an issue becomes a pull request.

Exit 0 shipped · 1 failed · 2 blocked (red, needs a person) or busy (another job holds it),
or no claude / no model credential (checked first, before any network call).
"""

from __future__ import annotations

import argparse


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
    parser.add_argument("--no-remember", action="store_true", help="do not write the outcome to memory")
    parser.add_argument(
        "--unattended", action="store_true", help="never wait for input; halt as blocked instead"
    )


def main(args: argparse.Namespace) -> int:
    import json
    import os
    import sys

    from kagura_engineer.agent.preflight import require_agent
    from kagura_engineer.run.context import build_context
    from kagura_engineer.run.loop import RunOptions, run_issue
    from kagura_engineer.workflow import write_untrusted

    require_agent()
    options = RunOptions(
        issue=args.issue,
        base=args.base,
        max_usd=args.max_usd,
        max_turns=args.max_turns,
        remember=not args.no_remember,
        unattended=args.unattended or os.environ.get("GITHUB_ACTIONS") == "true",
        run_id=os.environ.get("GITHUB_RUN_ID") or None,
        trigger=getattr(args, "trigger", None),  # set by the Action's dispatch, never on the command line
    )
    with build_context(args.config, options, live=not args.json) as ctx:
        outcome = run_issue(ctx)
    if args.json:
        print(json.dumps(outcome.to_json()))
    else:
        where = f" → {outcome.pr_url}" if outcome.pr_url else ""
        reason = f": {outcome.reason}" if outcome.reason else ""
        verdict = outcome.verdict or "no verdict"
        write_untrusted(f"{outcome.status} #{outcome.issue} ({verdict}){where}{reason}", sys.stderr)
    return outcome.exit_code
