"""`kagura-engineer goal <milestone>`: drive a milestone in dependency order.

Without --plan: each open issue of the milestone through `run`, dependencies first, halting
at the first blocked or failed one (re-run to resume). With --plan: print the ready
frontier as a matrix include list (and `matrix=` to $GITHUB_OUTPUT), drive nothing.
`execute(config, GoalOptions) -> GoalResult | GoalPlan` is the command; `main(args)` reads
the flags, calls it and prints.

Exit 0 every open issue shipped (or --plan printed) · 1 failed · 2 blocked, a dependency
cycle, the goal budget, issues still waiting on dependencies, or (without --plan) no claude or
no model credential, checked before any network call.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.goal.context import GoalContext
    from kagura_engineer.goal.outcome import GoalPlan, GoalResult


@dataclass(frozen=True)
class GoalOptions:
    milestone: str
    plan: bool = False  # print the ready frontier, drive nothing
    unattended: bool = False  # never wait for input; halt as blocked instead
    draft: bool = False  # open every issue's pull request as a draft


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("milestone", help="milestone title")
    parser.add_argument(
        "--plan", action="store_true", help="print the ready frontier as a matrix include list"
    )
    parser.add_argument(
        "--unattended", action="store_true", help="never wait for input; halt as blocked instead"
    )
    parser.add_argument("--draft", action="store_true", help="open the pull requests as drafts, even when green")


def execute(config: Config, options: GoalOptions, *, live: bool = False) -> GoalResult | GoalPlan:
    """Drive the milestone (or, with `plan`, survey its ready frontier); `live` writes lines to stderr."""
    from kagura_engineer.goal.context import open_goal

    if not options.plan:
        from kagura_engineer.agent.preflight import require_agent

        require_agent()
    with open_goal(config, options.milestone, unattended=options.unattended, live=live,
                   need_checkout=not options.plan, draft=options.draft) as ctx:  # fmt: skip
        if options.plan:
            return _plan(ctx)
        from kagura_engineer.goal.drive import drive_goal

        return drive_goal(ctx)


def main(args: argparse.Namespace) -> int:
    import os

    from kagura_engineer.config import load_config

    config = load_config(args.config)
    unattended = args.unattended or os.environ.get("GITHUB_ACTIONS") == "true"
    options = GoalOptions(args.milestone, plan=args.plan, unattended=unattended, draft=args.draft)
    outcome = execute(config, options, live=not args.json)
    _print(outcome, args.json)
    return outcome.exit_code


def _plan(ctx: GoalContext) -> GoalPlan:
    from kagura_engineer.goal import plan, summary
    from kagura_engineer.goal.outcome import GoalPlan, GoalResult
    from kagura_engineer.goal.survey import survey

    sv = survey(ctx)
    matrix = plan.matrix(sv)
    plan.write_output(matrix, ctx.environ)
    rows = plan.plan_rows(sv)
    result = GoalResult(status="planned", milestone=sv.milestone, rows=rows, notes=list(sv.notes),
                        closed=len(sv.closed))  # fmt: skip
    summary.write_summary(result, ctx.environ, ctx.run_url)
    return GoalPlan(milestone=sv.milestone, include=matrix["include"], rows=rows, notes=list(sv.notes))


def _print(outcome: GoalResult | GoalPlan, as_json: bool) -> None:
    import json
    import sys

    from kagura_engineer.goal.outcome import GoalPlan
    from kagura_engineer.workflow import write_untrusted

    if as_json:
        print(json.dumps(outcome.to_json()))
        return
    if isinstance(outcome, GoalPlan):
        from kagura_engineer.goal import plan

        print(plan.matrix_json({"include": outcome.include}))
        ready = ", ".join(f"#{e['issue']}" for e in outcome.include) or "none"
        write_untrusted(f"goal {outcome.milestone}: ready now: {ready}", sys.stderr)
        return
    result = outcome
    for row in result.rows:
        pr = f" PR #{row.pr_number}" if row.pr_number else ""
        reason = f": {row.reason}" if row.reason and row.state not in ("shipped", "pending") else ""
        write_untrusted(f"  #{row.issue} {row.state}{pr}{reason}", sys.stderr)
    shipped = sum(1 for row in result.rows if row.state == "shipped")
    line = (f"{result.status}: goal {result.milestone} — {shipped} of {len(result.rows)} open issues shipped, "
            f"${result.cost_usd:.2f} spent")  # fmt: skip
    if result.reason:
        line += f"; {result.reason}"
    write_untrusted(line, sys.stderr)
