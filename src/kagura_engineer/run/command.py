"""`kagura-engineer run <issue>`: an issue becomes a pull request."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("issue", type=int, help="issue number")
    parser.add_argument("--base", metavar="BRANCH", help="base branch (default: repo.yaml base_branch, else the default branch)")
    parser.add_argument("--max-usd", type=float, metavar="USD", help="stop before spending more than this")
    parser.add_argument("--max-turns", type=int, metavar="N", help="stop before this many model turns")
    parser.add_argument("--no-remember", action="store_true", help="do not write the outcome to memory")
    parser.add_argument("--unattended", action="store_true", help="never wait for input; halt as blocked instead")


def main(args: argparse.Namespace) -> int:
    from kagura_engineer._pending import not_yet

    return not_yet(args)
