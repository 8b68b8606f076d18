"""`kagura-engineer eval`: does memory pay for itself on this repository's issues?

Each issue runs as `run` would (same model, caps, checks and gate) with recall on (the normal
grounded prompt) and off (no recalled memory), `--repeat` times, in throwaway repositories:
nothing is pushed to origin, no PR, comment or label is made, and the team's memory is not
written. The table goes to stdout (and $GITHUB_STEP_SUMMARY), `--json` prints it as one
object, `--plot` draws paired bars. `execute(config, EvalOptions) -> Report` is the command;
`main(args)` reads the flags, calls it and prints.

Exit 0 evaluated (whatever the verdicts; also when --max-usd stopped it early) · 2 busy
(another eval holds this repository), bad arguments, --plot without matplotlib, or no
claude / no model credential (checked first, before any network call).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kagura_engineer.errors import ConfigError

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.eval.report import Report


@dataclass(frozen=True)
class EvalOptions:
    """Exactly one of `issues` and `milestone` (every open issue of it)."""

    issues: tuple[int, ...] | None = None
    milestone: str | None = None
    repeat: int = 1  # runs per issue and arm
    max_usd: float | None = None  # for the whole evaluation
    base: str | None = None
    plot: str | None = None  # paired bars per issue (needs the `plot` extra)


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


def execute(config: Config, options: EvalOptions, *, live: bool = False) -> Report:
    """Run the evaluation; the table also goes to $GITHUB_STEP_SUMMARY, the plot to `options.plot`."""
    import os

    from kagura_engineer.agent.preflight import require_agent
    from kagura_engineer.eval.context import open_eval
    from kagura_engineer.eval.drive import EvalSpec, evaluate
    from kagura_engineer.eval.report import render_markdown

    if (options.issues is None) == (options.milestone is None):
        raise ConfigError(
            "eval needs either issues or a milestone", hint="--issues 12,15 or --milestone v0.3"
        )
    if options.plot:
        from kagura_engineer.eval.plot import require_matplotlib

        require_matplotlib()
    require_agent()
    with open_eval(config, live=live) as ctx:
        issues = options.issues or _milestone_issues(ctx.gh, options.milestone or "")
        spec = EvalSpec(issues=issues, repeat=options.repeat, max_usd=options.max_usd, base=options.base)
        report = evaluate(ctx, spec)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        from kagura_engineer.workflow import ActionIO

        ActionIO(os.environ).write_summary(render_markdown(report) + "\n")
    if options.plot:
        from kagura_engineer.eval.plot import write_plot

        write_plot(report, options.plot)
        report.plot = str(options.plot)
    return report


def main(args: argparse.Namespace) -> int:
    import json
    import sys

    from kagura_engineer.config import load_config
    from kagura_engineer.eval.report import render_markdown

    config = load_config(args.config)
    options = EvalOptions(issues=args.issues, milestone=args.milestone, repeat=args.repeat,
                          max_usd=args.max_usd, base=args.base, plot=args.plot)  # fmt: skip
    report = execute(config, options, live=not args.json)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        sys.stdout.write(render_markdown(report))
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
