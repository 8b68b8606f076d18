"""`kagura-engineer doctor`: what this machine or runner is missing, and how to fix it.

Every check always runs: a repo.yaml that does not load is the `config` check's FAIL (with
the exact error) and the other checks run with the embedded defaults.
`execute(config, DoctorOptions) -> Report` is the command; `main(args)` reads the flags,
calls it and prints.

Exit 0 when nothing FAILed (OK, WARN, SKIPPED) · 1 any FAIL · 2 the config check FAILed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.doctor.model import Report
    from kagura_engineer.errors import KaguraError


@dataclass(frozen=True)
class DoctorOptions:
    timeout: float | None = None  # per-check timeout in seconds (None: each check's own)
    config_error: KaguraError | None = None  # why repo.yaml could not be used (config: the defaults)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="per-check timeout (default: each check's own, 10-20 s)",
    )  # fmt: skip


def execute(config: Config, options: DoctorOptions) -> Report:
    """Run every check against `config`."""
    from kagura_engineer.doctor.context import DoctorContext
    from kagura_engineer.doctor.registry import checks_for
    from kagura_engineer.doctor.runner import run_checks
    from kagura_engineer.errors import ConfigError

    if options.timeout is not None and options.timeout <= 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {options.timeout:g}")
    ctx = DoctorContext(config, config_error=options.config_error)
    return run_checks(checks_for(ctx), ctx, timeout=options.timeout)


def main(args: argparse.Namespace) -> int:
    from kagura_engineer.config import EMBEDDED_DEFAULTS, load_config, parse_config
    from kagura_engineer.doctor import render
    from kagura_engineer.errors import ConfigError

    try:
        config, problem = load_config(args.config), None
    except ConfigError as exc:
        config, problem = parse_config(dict(EMBEDDED_DEFAULTS), "<embedded defaults>"), exc
    report = execute(config, DoctorOptions(timeout=args.timeout, config_error=problem))
    print(render.as_json(report) if args.json else render.table(report))
    return report.exit_code
