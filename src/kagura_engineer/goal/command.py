"""`kagura-engineer goal <milestone>`: drive a milestone in dependency order.

Without --plan: each open issue of the milestone through `run`, dependencies first, halting
at the first blocked or failed one (re-run to resume). With --plan: print the ready
frontier as a matrix include list (and `matrix=` to $GITHUB_OUTPUT), drive nothing.

Exit 0 every open issue shipped (or --plan printed) · 1 failed · 2 blocked, a dependency
cycle, the goal budget, issues still waiting on dependencies, or (without --plan) no claude or
no model credential, checked before any network call.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.goal.context import GoalContext
    from kagura_engineer.goal.outcome import GoalResult


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("milestone", help="milestone title")
    parser.add_argument(
        "--plan", action="store_true", help="print the ready frontier as a matrix include list"
    )
    parser.add_argument(
        "--unattended", action="store_true", help="never wait for input; halt as blocked instead"
    )


def main(args: argparse.Namespace) -> int:
    import os

    from kagura_engineer.goal.context import open_goal

    if not args.plan:
        from kagura_engineer.agent.preflight import require_agent

        require_agent()
    unattended = args.unattended or os.environ.get("GITHUB_ACTIONS") == "true"
    with open_goal(args.config, args.milestone, unattended=unattended, live=not args.json,
                   need_checkout=not args.plan) as ctx:  # fmt: skip
        if args.plan:
            return _plan(ctx, args.json)
        from kagura_engineer.goal.drive import drive_goal

        result = drive_goal(ctx)
    _print_result(result, args.json)
    return result.exit_code


def _plan(ctx: GoalContext, as_json: bool) -> int:
    import json
    import sys

    from kagura_engineer.goal import plan, summary
    from kagura_engineer.goal.outcome import GoalResult
    from kagura_engineer.goal.survey import survey
    from kagura_engineer.workflow import write_untrusted

    sv = survey(ctx)
    matrix = plan.matrix(sv)
    plan.write_output(matrix, ctx.environ)
    rows = plan.plan_rows(sv)
    result = GoalResult(status="planned", milestone=sv.milestone, rows=rows, notes=list(sv.notes),
                        closed=len(sv.closed))  # fmt: skip
    summary.write_summary(result, ctx.environ, ctx.run_url)
    if as_json:
        # `include` is the matrix's own field: the Action turns it into its `matrix` output
        data = {"status": "planned", "milestone": sv.milestone, "include": matrix["include"],
                "issues": [r.to_json() for r in rows], "notes": list(sv.notes)}  # fmt: skip
        print(json.dumps(data))
    else:
        print(plan.matrix_json(matrix))
        ready = ", ".join(f"#{e['issue']}" for e in matrix["include"]) or "none"
        write_untrusted(f"goal {sv.milestone}: ready now: {ready}", sys.stderr)
    return 0


def _print_result(result: GoalResult, as_json: bool) -> None:
    import json
    import sys

    from kagura_engineer.workflow import write_untrusted

    if as_json:
        print(json.dumps(result.to_json()))
        return
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
