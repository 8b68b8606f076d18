"""`kagura-engineer review [target] [--fix]`: a gated review pinned to the head commit.

`execute(config, ReviewOptions) -> ReviewOutcome` is the command; `main(args)` reads the
flags, calls it and prints.

Exit 0 green/yellow · 1 could not review (or the head moved while reviewing) · 2 red
(also: `--fix` refused on a fork, another job holds the target, or Claude is needed — to fix,
or to review without kagura-code-reviewer — and claude or its credential is missing).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.review.job import ReviewOptions, ReviewOutcome


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", default="HEAD", help="HEAD (default), a branch, or a PR number")
    parser.add_argument(
        "--base", metavar="BRANCH", help="compare against this base (default: the PR base or default branch)"
    )
    parser.add_argument("--fix", action="store_true", help="on red, fix the blocking findings and re-review")


def execute(config: Config, options: ReviewOptions, *, live: bool = False) -> ReviewOutcome:
    """Review the target (and fix it with `options.fix`); `live` writes progress lines to stderr."""
    from kagura_engineer.agent.preflight import require_agent
    from kagura_engineer.review.context import build_context
    from kagura_engineer.review.job import run_review
    from kagura_engineer.review.reviewer import find_reviewer_binary

    if options.fix or find_reviewer_binary() is None:
        require_agent()
    with build_context(config, options, quiet=not live) as ctx:
        return run_review(ctx)


def main(args: argparse.Namespace) -> int:
    import json
    import sys

    from kagura_engineer.config import load_config
    from kagura_engineer.review.job import ReviewOptions
    from kagura_engineer.workflow import write_untrusted

    config = load_config(args.config)
    outcome = execute(
        config, ReviewOptions(target=args.target, base=args.base, fix=args.fix), live=not args.json
    )
    if args.json:
        print(json.dumps(outcome.to_json()))
    else:
        where = f" → {outcome.review_url or outcome.pr_url}" if (outcome.review_url or outcome.pr_url) else ""
        reason = f": {outcome.reason}" if outcome.reason else ""
        verdict = outcome.verdict or "no verdict"
        head = f" @ {outcome.head_sha[:12]}" if outcome.head_sha else ""
        write_untrusted(f"{outcome.status} {outcome.target}{head} ({verdict}){where}{reason}", sys.stderr)
        if outcome.report:
            print(f"report: {outcome.report}", file=sys.stderr)
    return outcome.exit_code
