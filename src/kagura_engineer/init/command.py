"""`kagura-engineer init`: set a repository up for kagura-engineer.

Writes a commented repo.yaml (`--memory local|cloud`), adds `.kagura/` to .git/info/exclude,
and with `--workflow` copies the example workflows into .github/workflows/. An existing file
that differs is never replaced without `--force` (the output names each one skipped); a
file already as init would write it is left alone, so a second run changes nothing.
`--dry-run` writes nothing and lists what would happen. Exit 0, or 2 outside a git
repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHOICES = ("issue", "comment", "review", "milestone", "nightly", "eval", "all")
VERBS = {
    "create": ("wrote", "would write"),
    "overwrite": ("overwrote", "would overwrite"),
    "append": ("added .kagura/ to", "would add .kagura/ to"),
    "unchanged": ("unchanged", "unchanged"),
    "skip": ("skipped", "would skip"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory", choices=("local", "cloud"), default="local",
        help="where memory lives: local (SQLite, carried in the Actions cache; the default) or cloud",
    )  # fmt: skip
    parser.add_argument(
        "--workflow", action="append", choices=CHOICES, default=[], metavar="|".join(CHOICES),
        help="also write this workflow into .github/workflows/ (repeatable; all = every one)",
    )  # fmt: skip
    parser.add_argument("--force", action="store_true", help="overwrite files that exist and differ")
    parser.add_argument("--dry-run", action="store_true", help="write nothing; list what init would do")


def _workflows(chosen: list[str]) -> list[str]:
    from kagura_engineer.init.scaffold import WORKFLOWS

    if "all" in chosen:
        return list(WORKFLOWS)
    return [name for name in WORKFLOWS if name in chosen]


def _repository() -> tuple[Path, Path]:
    """The work tree's root and its info/exclude file (worktrees share the main one's)."""
    from kagura_engineer import proc
    from kagura_engineer.errors import ConfigError

    top = proc.run(["git", "rev-parse", "--show-toplevel"], timeout=30)
    if not top.ok:
        raise ConfigError(
            "not inside a git work tree", hint="run `git init` (or cd into your repository), then init again"
        )
    root = Path(top.stdout.strip())
    exclude = proc.run(["git", "rev-parse", "--git-path", "info/exclude"], cwd=root, timeout=30, check=True)
    path = Path(exclude.stdout.strip())
    return root, path if path.is_absolute() else root / path


def main(args: argparse.Namespace) -> int:
    from kagura_engineer.init import scaffold

    root, exclude = _repository()
    changes = scaffold.plan(root, exclude, args.memory, _workflows(args.workflow), args.force)
    if not args.dry_run:
        scaffold.apply(root, changes)
    secrets = scaffold.secrets(args.memory)
    changed = any(c.writes for c in changes)
    if args.json:
        import json

        print(json.dumps({
            "ok": True, "root": str(root), "dry_run": args.dry_run, "changed": changed,
            "files": [{"path": c.path, "action": c.action, "reason": c.reason or None} for c in changes],
            "secrets": [{"name": s.name, "why": s.why} for s in secrets],
        }, indent=2))  # fmt: skip
        return 0
    print(_text(root, changes, secrets, args))
    return 0


def _text(root: Path, changes: list, secrets: list, args: argparse.Namespace) -> str:
    tense = 1 if args.dry_run else 0
    lines = [f"kagura-engineer init in {root}" + (" (dry run: nothing written)" if args.dry_run else "")]
    verbs = [VERBS[c.action][tense] for c in changes]
    width = max(len(v) for v in verbs)
    for verb, change in zip(verbs, changes, strict=True):
        reason = f" ({change.reason})" if change.reason else ""
        lines.append(f"  {verb.ljust(width)}  {change.path}{reason}")
    if not any(c.writes for c in changes):
        skipped = any(c.action == "skip" for c in changes)
        lines.append(
            "nothing written" if skipped else "nothing to change: every file is already as init writes it"
        )
    width = max(len(s.name) for s in secrets)
    lines.append("repository secrets the workflows read (Settings > Secrets and variables > Actions):")
    lines += [f"  {s.name.ljust(width)}  {s.why}" for s in secrets]
    steps = ["commit repo.yaml" + (" and .github/workflows/" if args.workflow else "")]
    if args.memory == "cloud":
        steps.insert(0, "put your workspace_id and context_id in repo.yaml")
    steps.append("run `kagura-engineer doctor`")
    lines.append("next: " + "; ".join(steps))
    return "\n".join(lines)
