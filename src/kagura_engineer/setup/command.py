"""`kagura-engineer setup`: install and bootstrap what doctor found missing.

Steps, in order: git → claude-code → gh → ollama → ollama-models → memory-cloud.
Exit 0 all OK/SKIPPED · 1 any FAIL (wins) · 2 any NEEDS_USER, or a config / unknown-step error.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="change nothing; print the exact commands setup would run")
    parser.add_argument("--fix", metavar="STEP", help="run only this step (and allow it to replace a mismatched version)")
    parser.add_argument("--no-input", action="store_true", help="never prompt; what needs a person becomes NEEDS_USER")


def main(args: argparse.Namespace) -> int:
    import sys

    from kagura_engineer.config import load_config
    from kagura_engineer.errors import ConfigError
    from kagura_engineer.setup import render
    from kagura_engineer.setup.context import SetupContext
    from kagura_engineer.setup.runner import run_steps
    from kagura_engineer.setup.steps import NAMES, STEPS

    steps = STEPS
    if args.fix:
        steps = tuple(s for s in STEPS if s.name == args.fix)
        if not steps:
            raise ConfigError(f"unknown setup step '{args.fix}'", hint=f"valid steps: {', '.join(NAMES)}")
    config = load_config(args.config)
    interactive = not args.no_input and not args.dry_run and sys.stdin.isatty()
    ctx = SetupContext(config, dry_run=args.dry_run, interactive=interactive, fix=args.fix)
    report = run_steps(steps, ctx)
    print(render.as_json(report) if args.json else render.text(report))
    return report.exit_code
