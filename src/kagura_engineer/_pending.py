"""The shared answer of commands whose implementation has not landed yet."""

from __future__ import annotations

import argparse

from kagura_engineer.errors import KaguraError


class NotYetAvailable(KaguraError):
    code = "not-yet-available"
    exit_code = 2


def not_yet(args: argparse.Namespace) -> int:
    raise NotYetAvailable(
        f"'{args.command}' is not yet available in this version",
        hint="kagura-engineer doctor and setup work today; see the README's roadmap",
    )
