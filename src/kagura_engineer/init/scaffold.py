"""What `init` writes: repo.yaml from its template, the packaged workflows, the git exclude.

`plan` decides, per file, what would happen and writes nothing; `apply` carries a plan out.
The workflow templates here are the files in examples/workflows/, byte for byte (a test
holds them equal), so what `init` writes is exactly what the examples document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from kagura_engineer.init import layouts

#: `--workflow` name -> the packaged template (and example) file.
WORKFLOWS: dict[str, str] = {
    "issue": "issue-label.yml",
    "comment": "comment.yml",
    "review": "pr-review-fix.yml",
    "milestone": "dispatch-milestone.yml",
    "nightly": "nightly-goal.yml",
    "eval": "eval.yml",
}
WORKFLOW_DIR = ".github/workflows"
WORKFLOW_PREFIX = "kagura-"
CONFIG_NAME = "repo.yaml"
#: Config files the CLI would read before or instead of repo.yaml (config.SEARCH_PATHS).
OTHER_CONFIGS = (".kagura/repo.yaml", ".github/kagura.yaml")
EXCLUDE_LINE = ".kagura/"

MEMORY_LOCAL = """\
# Local: a SQLite file (.kagura/memory.db, ignored by git) that the action carries from job
# to job in the Actions cache. For memory shared by every job, branch and machine, use
# Memory Cloud instead: `kagura-engineer init --memory cloud --force`.
memory_backend: local"""

MEMORY_CLOUD = """\
# Memory Cloud: shared by every job, branch and machine. Replace both ids with your
# workspace's and context's. The API key never goes in this file: set the repository secret
# KAGURA_API_KEY (and locally `kagura auth login`, or export KAGURA_API_KEY).
memory_backend: cloud
workspace_id: "<your-workspace-id>"
context_id: "<your-context-id>\""""

NO_SETUP = """\
setup: []
# setup:
#   - python3 -m venv .venv
#   - .venv/bin/pip install -e '.[test]'
# setup_cache:
#   paths: [.venv]
#   key_files: [pyproject.toml]"""

NO_CHECKS = """\
checks: []
# checks:
#   - .venv/bin/python -m pytest -q"""


@dataclass(frozen=True)
class Secret:
    name: str
    why: str


@dataclass(frozen=True)
class Change:
    """One file and what init does to it: create, overwrite, append, unchanged or skip."""

    path: str  # relative to the repository root
    action: str
    content: str = ""
    reason: str = ""

    @property
    def writes(self) -> bool:
        return self.action in ("create", "overwrite", "append")


def template(name: str) -> str:
    """A packaged template's text, exactly as shipped."""
    return resources.files("kagura_engineer.init").joinpath("templates", name).read_text(encoding="utf-8")


def render_repo_yaml(
    memory: str,
    checks: tuple[str, ...] = (),
    setup: tuple[str, ...] = (),
    setup_cache: dict[str, list[str]] | None = None,
) -> str:
    """repo.yaml for `memory` (local or cloud); `checks`, `setup` and `setup_cache` fill their
    slots when known (see `layouts.detect`), else a commented example stands there."""
    from kagura_engineer.init.layouts import ROOT_COMMANDS

    block = "checks:\n" + "".join(f"  - {json.dumps(c)}\n" for c in checks) if checks else NO_CHECKS + "\n"
    if setup:
        items = [
            f"{{run: {json.dumps(c)}, as: root}}" if c in ROOT_COMMANDS else json.dumps(c) for c in setup
        ]
        steps = "setup:\n" + "".join(f"  - {item}\n" for item in items)
        if setup_cache:
            steps += "setup_cache:\n" + "".join(
                f"  {name}: [{', '.join(json.dumps(v) for v in values)}]\n"
                for name, values in setup_cache.items()
            )
    else:
        steps = NO_SETUP + "\n"
    text = Template(template(CONFIG_NAME)).substitute(
        memory=MEMORY_CLOUD if memory == "cloud" else MEMORY_LOCAL, checks=block.rstrip("\n"),
        setup=steps.rstrip("\n"),
    )  # fmt: skip
    return text


def secrets(memory: str) -> list[Secret]:
    """The repository secrets the workflows read, for this memory backend."""
    found = [
        Secret(
            "ANTHROPIC_API_KEY",
            "an Anthropic API key (or CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`, "
            "passed as claude_code_oauth_token)",
        )
    ]
    if memory == "cloud":
        found.append(Secret("KAGURA_API_KEY", "a Kagura Memory Cloud API key for the workspace in repo.yaml"))
    return found


def _file(root: Path, rel: str, content: str, force: bool) -> Change:
    path = root / rel
    if not path.exists():
        return Change(rel, "create", content)
    if path.is_file() and path.read_bytes() == content.encode("utf-8"):
        return Change(rel, "unchanged")
    if force and path.is_file():
        return Change(rel, "overwrite", content)
    why = "not a file" if not path.is_file() else "exists and differs; --force overwrites it"
    return Change(rel, "skip", reason=why)


def _exclude(root: Path, exclude: Path) -> Change:
    rel = _relative(root, exclude)
    text = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
    entries = {line.strip() for line in text.splitlines()}
    if entries & {EXCLUDE_LINE, "/" + EXCLUDE_LINE, ".kagura", "/.kagura"}:
        return Change(rel, "unchanged", reason=f"{EXCLUDE_LINE} is already excluded")
    sep = "" if not text or text.endswith("\n") else "\n"
    return Change(
        rel, "append", f"{sep}# kagura-engineer: local memory, savepoints, work trees\n{EXCLUDE_LINE}\n"
    )


def _relative(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def plan(root: Path, exclude: Path, memory: str, workflows: list[str], force: bool) -> list[Change]:
    """Every change init would make under `root`; nothing is written."""
    changes = []
    other = next((c for c in OTHER_CONFIGS if (root / c).is_file()), None)
    if other and not (root / CONFIG_NAME).exists():
        changes.append(Change(CONFIG_NAME, "skip", reason=f"{other} already configures this repository"))
    else:
        found = layouts.detect(root)
        text = render_repo_yaml(memory, found.checks, found.setup, found.cache)
        reason = f"set up for {', '.join(found.names)}" if found.layouts else ""
        changes.append(_with_reason(_file(root, CONFIG_NAME, text, force), reason))
    changes.append(_exclude(root, exclude))
    for name in workflows:
        file = WORKFLOWS[name]
        changes.append(
            _file(root, f"{WORKFLOW_DIR}/{WORKFLOW_PREFIX}{file}", template(f"workflows/{file}"), force)
        )
    return changes


def _with_reason(change: Change, reason: str) -> Change:
    """Say which layouts shaped repo.yaml when it is (or would be) written."""
    if not reason or not change.writes:
        return change
    return Change(change.path, change.action, change.content, reason)


def apply(root: Path, changes: list[Change]) -> None:
    """Write every change that writes; `append` adds to the end of the file."""
    for change in changes:
        if not change.writes:
            continue
        path = root / change.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if change.action == "append":
            with path.open("a", encoding="utf-8") as fh:
                fh.write(change.content)
        else:
            path.write_bytes(change.content.encode("utf-8"))
