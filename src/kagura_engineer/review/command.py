"""`kagura-engineer review [target] [--fix]`: a gated review pinned to the head commit."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", default="HEAD", help="HEAD (default), a branch, or a PR number")
    parser.add_argument("--base", metavar="BRANCH", help="compare against this base (default: the PR base or default branch)")
    parser.add_argument("--fix", action="store_true", help="on red, fix the blocking findings and re-review")


def main(args: argparse.Namespace) -> int:
    from kagura_engineer._pending import not_yet

    return not_yet(args)
