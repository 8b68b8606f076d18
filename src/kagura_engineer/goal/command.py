"""`kagura-engineer goal <milestone>`: drive a milestone in dependency order."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("milestone", help="milestone title")
    parser.add_argument("--plan", action="store_true", help="print the ready frontier as a matrix include list")
    parser.add_argument("--unattended", action="store_true", help="never wait for input; halt as blocked instead")


def main(args: argparse.Namespace) -> int:
    from kagura_engineer._pending import not_yet

    return not_yet(args)
