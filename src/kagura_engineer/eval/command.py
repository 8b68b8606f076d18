"""`kagura-engineer eval`: does memory pay for itself on this repository's issues?

Each issue runs as `run` would (same model, caps, checks and gate) with recall on (the normal
grounded prompt) and off (no recalled memory), `--repeat` times, in throwaway repositories:
nothing is pushed to origin, no PR, comment or label is made, and the team's memory is not
written. The table goes to stdout (and $GITHUB_STEP_SUMMARY), `--json` prints it as one
object, `--plot` draws paired bars.

Exit 0 evaluated (whatever the verdicts; also when --max-usd stopped it early) · 2 busy
(another eval holds this repository), bad arguments, --plot without matplotlib, or no
claude / no model credential (checked first, before any network call).
"""

from __future__ import annotations

import argparse

from kagura_engineer.errors import ConfigError


def _issue_list(text: str) -> tuple[int, ...]:
    numbers: list[int] = []
    for item in text.replace("\n", ",").split(","):
        item = item.strip().lstrip("#")
        if not item:
            continue
        if not item.isdigit() or int(item) < 1:
            raise argparse.ArgumentTypeError(f"not an issue number: {item!r}")
        numbers.append(int(item))
    if not numbers:
        raise argparse.ArgumentTypeError("give at least one issue number, e.g. 12,15,18")
    return tuple(dict.fromkeys(numbers))


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def _positive_usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--issues", type=_issue_list, metavar="N,N,...", help="the issues to run, e.g. 12,15,18"
    )
    which.add_argument("--milestone", metavar="TITLE", help="every open issue of this milestone")
    parser.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                        help="runs per issue and arm (default 1)")  # fmt: skip
    parser.add_argument("--max-usd", type=_positive_usd, metavar="USD",
                        help="for the whole evaluation: no run starts once it is spent, and each run's "
                        "budget is at most what is left")  # fmt: skip
    parser.add_argument(
        "--base", metavar="BRANCH", help="base branch (default: repo.yaml, else the default branch)"
    )
    parser.add_argument("--plot", metavar="FILE.png", help="paired bars per issue (needs the `plot` extra)")


def main(args: argparse.Namespace) -> int:
    import json
    import os
    import sys

    from kagura_engineer.agent.preflight import require_agent
    from kagura_engineer.eval.context import open_eval
    from kagura_engineer.eval.drive import EvalSpec, evaluate
    from kagura_engineer.eval.report import render_markdown

    if args.plot:
        from kagura_engineer.eval.plot import require_matplotlib

        require_matplotlib()
    require_agent()
    with open_eval(args.config, live=not args.json) as ctx:
        issues = args.issues or _milestone_issues(ctx.gh, args.milestone)
        spec = EvalSpec(issues=issues, repeat=args.repeat, max_usd=args.max_usd, base=args.base)
        report = evaluate(ctx, spec)
    table = render_markdown(report)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        from kagura_engineer.workflow import ActionIO

        ActionIO(os.environ).write_summary(table + "\n")
    if args.plot:
        from kagura_engineer.eval.plot import write_plot

        write_plot(report, args.plot)
    if args.json:
        data = report.to_json()
        if args.plot:
            data["plot"] = str(args.plot)
        print(json.dumps(data))
    else:
        sys.stdout.write(table)
    return report.exit_code


def _milestone_issues(gh: object, title: str) -> tuple[int, ...]:
    from kagura_engineer.errors import NotFound

    try:
        items = gh.list_milestone_issues(title, state="open")  # type: ignore[attr-defined]
    except NotFound as exc:
        raise ConfigError(exc.message, hint=exc.hint) from None
    numbers = tuple(sorted(int(i["number"]) for i in items))
    if not numbers:
        raise ConfigError(f"milestone {title!r} has no open issues to evaluate")
    return numbers
