"""`kagura-engineer doctor`: what this machine or runner is missing, and how to fix it.

Every check always runs: a repo.yaml that does not load is the `config` check's FAIL (with
the exact error) and the other checks run with the embedded defaults.

Exit 0 when nothing FAILed (OK, WARN, SKIPPED) · 1 any FAIL · 2 the config check FAILed.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="per-check timeout (default: each check's own, 10-20 s)",
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    from kagura_engineer.config import EMBEDDED_DEFAULTS, load_config, parse_config
    from kagura_engineer.doctor import render
    from kagura_engineer.doctor.context import DoctorContext
    from kagura_engineer.doctor.registry import checks_for
    from kagura_engineer.doctor.runner import run_checks
    from kagura_engineer.errors import ConfigError

    if args.timeout is not None and args.timeout <= 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    try:
        config, problem = load_config(args.config), None
    except ConfigError as exc:
        config, problem = parse_config(dict(EMBEDDED_DEFAULTS), "<embedded defaults>"), exc
    ctx = DoctorContext(config, config_error=problem)
    report = run_checks(checks_for(ctx), ctx, timeout=args.timeout)
    print(render.as_json(report) if args.json else render.table(report))
    return report.exit_code
