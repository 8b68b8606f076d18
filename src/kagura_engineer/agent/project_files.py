"""Project files that configure an agent, for a checkout whose head a stranger wrote (a fork PR).

Claude Code reads instructions and configuration from the checkout before any permission
check: `CLAUDE.md`, `CLAUDE.local.md` and `AGENTS.md` at any depth and in every ancestor
directory, what they import with `@path`, `.claude/` (settings with hooks and env, rules,
commands, agents, skills) and `.mcp.json`. In a fork PR's checkout all of them are the
fork's. Two measures, both needed:

- `restore_from_base(tree, base_sha)`: every such path in the working tree becomes what the
  base commit has — deleted where the base has none — so no tool run in the tree (Claude
  Code, git, hook managers) finds the fork's versions. Left unstaged: `git diff base...head`
  still shows what the PR changed in them, as data.
- `UNTRUSTED_SETTING_SOURCES` (`claude --setting-sources user`): Claude Code loads no project
  or local settings and no project memory at all — no CLAUDE.md/CLAUDE.local.md anywhere
  (the tree, its ancestors, nested directories), no `@path` imports, no `.claude/rules`, no
  project hooks. Measured with 2.1.331 against the scripted Messages API: markers planted in
  each of those never reached a request, and a planted SessionStart hook never ran. This is
  what makes it watertight: restoring files cannot reach an ancestor directory outside the
  tree (the Action's checkout of the PR's merge commit), nor a file the base's CLAUDE.md
  imports that the PR changed.

What project memory would have given, the base's own instructions, comes back through
`base_instructions(tree, base_sha)`: the base commit's `CLAUDE.md` and `.claude/CLAUDE.md`,
with their `@path` imports, read from git objects at the base commit — never from the
working tree — for the harness to hand to the agent.
"""

from __future__ import annotations

import re
import shutil
from pathlib import PurePosixPath
from typing import Any

#: `claude --setting-sources` for a checkout whose project files are untrusted.
UNTRUSTED_SETTING_SOURCES = "user"
#: Top-level paths read by tools at startup (Claude Code, git, ripgrep, hook managers).
TOP_LEVEL = (".mcp.json", ".claude.json", ".gitmodules", ".ripgreprc", ".husky", ".githooks", "lefthook.yml",
             ".lefthook.yml", ".pre-commit-config.yaml")  # fmt: skip
#: Names sensitive at any depth (Claude Code loads nested memory files and .claude dirs).
ANY_DEPTH_FILES = ("CLAUDE.md", "CLAUDE.local.md", "AGENTS.md")
ANY_DEPTH_DIRS = (".claude",)
#: The base's instruction files handed to the agent, and how far imports are followed.
INSTRUCTION_FILES = ("CLAUDE.md", ".claude/CLAUDE.md")
MAX_IMPORT_DEPTH = 5
MAX_INSTRUCTION_CHARS = 40_000
_IMPORT = re.compile(r"(?:^|(?<=\s))@([^\s`'\"()<>\[\]]+)")


def is_sensitive(path: str) -> bool:
    """True for a repository path (POSIX, relative) a stranger's PR must not control."""
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    if parts[0] in TOP_LEVEL:
        return True
    if parts[-1] in ANY_DEPTH_FILES:
        return True
    return any(p in ANY_DEPTH_DIRS for p in parts)


def _tracked(tree: Any, rev: str) -> dict[str, str]:
    """{path: "<mode> <object id>"} of the sensitive paths committed at `rev`."""
    out = tree.run("-c", "core.quotePath=false", "ls-tree", "-r", "-z", rev).stdout
    found: dict[str, str] = {}
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        if path and is_sensitive(path):
            mode, _kind, oid = meta.split()
            found[path] = f"{mode} {oid}"
    return found


def restore_from_base(tree: Any, base_sha: str) -> list[str]:
    """Make every sensitive path in the worktree `tree` (a `run.git.Git`) what `base_sha` has.

    The worktree must be a clean checkout of the head. Returns the paths that differed
    (replaced or removed), sorted. Paths the base has are checked out from it byte for
    byte and unstaged again; paths it lacks are deleted. Nothing stays staged.
    """
    root = tree.cwd
    base = _tracked(tree, base_sha)
    head = _tracked(tree, "HEAD")
    changed = sorted(p for p in set(base) | set(head) if base.get(p) != head.get(p))
    for rel in changed:
        target = root / rel
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    restore = [p for p in changed if p in base]
    if restore:
        tree.run("checkout", base_sha, "--", *restore)
        tree.run("reset", "--quiet", "--", *restore)
    return changed


def _blob(tree: Any, rev: str, path: str) -> str | None:
    """The text of `path` at `rev` when it is a regular file there, else None."""
    listed = tree.run("ls-tree", "-z", rev, "--", path, check=False).stdout.split("\0")[0]
    meta, _, name = listed.partition("\t")
    if name != path or not meta.startswith("100"):  # not a regular file (absent, a symlink, a dir)
        return None
    return tree.run("cat-file", "blob", meta.split()[2], check=False).stdout


def base_instructions(tree: Any, base_sha: str) -> str:
    """The base commit's project instructions (`INSTRUCTION_FILES` and what they import with
    `@path`, relative paths only, `MAX_IMPORT_DEPTH` hops), as one text; "" when it has none.

    Everything is read from git objects at `base_sha`: nothing a PR changed can get in.
    """
    parts: list[str] = []
    seen: set[str] = set()
    size = 0

    def add(path: str, depth: int) -> None:
        nonlocal size
        if path in seen or depth > MAX_IMPORT_DEPTH or size >= MAX_INSTRUCTION_CHARS:
            return
        seen.add(path)
        text = _blob(tree, base_sha, path)
        if text is None:
            return
        text = text[: MAX_INSTRUCTION_CHARS - size]
        size += len(text)
        parts.append(f"--- {path} ---\n{text.rstrip()}")
        for ref in _IMPORT.findall(text):
            for candidate in dict.fromkeys((ref, ref.rstrip(".,;:!?"))):  # "see @a.md." means a.md
                target = _inside(PurePosixPath(path).parent, candidate)
                if target is not None:
                    add(target, depth + 1)

    for name in INSTRUCTION_FILES:
        add(name, 0)
    return "\n\n".join(parts)


def _inside(directory: PurePosixPath, ref: str) -> str | None:
    """`ref` (an import) relative to `directory`, normalised; None when it leaves the repository
    or is absolute or home-relative."""
    if ref.startswith(("/", "~")):
        return None
    parts: list[str] = []
    for part in (directory / ref).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) or None
