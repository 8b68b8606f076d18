"""`setup`, `setup_cache` and `checks` come from the base branch's repo.yaml, never the branch under work.

They are shell commands the harness runs (setup even as root), so they must come from a file
only people who can push to the base wrote: `git show <ref>:<path>` in the harness's own
repository, where `<ref>` is origin's default branch (for `run`) or the PR's base commit (for
`review`). Never from the PR branch, the agent's clone, the checkout's work tree or an issue.

- The base has a config file (the loaded one's repository path first, then `SEARCH_PATHS`):
  its three keys replace the loaded config's; when the loaded values differ, one line says so.
- The base has none, but the checkout's work tree does: that file is not on the base, so
  nothing in it is trusted: no setup and no checks (one line says so).
- Neither has one: the loaded config came from outside the repository (`-c`, `KAGURA_CONFIG`,
  a test's own settings): its values stand, as the operator wrote them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kagura_engineer.config import SEARCH_PATHS, Config, parse_config
from kagura_engineer.errors import ConfigError

KEYS = ("setup", "setup_cache", "checks")


@dataclass(frozen=True)
class Trusted:
    """The config to run with, where its setup/checks came from, and the one line to show (if any)."""

    config: Config
    source: str
    note: str | None = None


def repo_path(config: Config, root: Path) -> str | None:
    """The loaded config file's path inside the repository at `root`, or None (outside, embedded)."""
    source = config.source.split(" + ")[0]
    if source.startswith("<"):
        return None
    path = Path(os.path.abspath(source))
    try:
        rel = path.relative_to(Path(os.path.realpath(root)))
    except ValueError:
        try:
            rel = path.relative_to(Path(os.path.abspath(root)))
        except ValueError:
            return None
    return rel.as_posix()


def read_at(repo: Any, ref: str, paths: list[str]) -> tuple[str, Any] | None:
    """(path, parsed YAML) of the first of `paths` present at `ref` in the harness repo, or None."""
    import yaml

    for path in dict.fromkeys(paths):
        shown = repo.run("show", f"{ref}:{path}", check=False)
        if not shown.ok:
            continue
        try:
            data = yaml.safe_load(shown.stdout)
        except yaml.YAMLError:
            raise ConfigError(f"{ref}:{path}: invalid YAML (setup and checks are read from here)") from None
        return path, data if data is not None else {}
    return None


def trusted_config(config: Config, repo: Any, ref: str, label: str | None = None) -> Trusted:
    """`config` with setup/setup_cache/checks taken from `ref` (see the module doc).

    `repo` is the harness's `run.git.Git`; `label` names the ref in messages (`origin/main`).
    """
    label = label or ref
    root = Path(repo.cwd)
    own = repo_path(config, root)
    found = read_at(repo, ref, [*([own] if own else []), *SEARCH_PATHS])
    if found is None:
        local = next((p for p in SEARCH_PATHS if (root / p).is_file()), None)
        if local is None and own is None:
            return Trusted(config, config.source)
        untrusted = own or local
        if not (config.setup or config.checks or config.setup_cache):
            return Trusted(config, f"{label} (no config file)")
        emptied = config.model_copy(update={"setup": [], "setup_cache": None, "checks": []})
        note = (f"{untrusted} is not on {label}: its setup and checks are not trusted, so none run "
                f"(commit repo.yaml to {label} first)")  # fmt: skip
        return Trusted(emptied, f"{label} (no config file)", note)
    path, data = found
    source = f"{label}:{path}"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    picked = {k: data[k] for k in KEYS if k in data}
    checked = parse_config({"profile": "trusted", "memory_backend": "local", **picked}, source)
    update = {k: getattr(checked, k) for k in KEYS}
    differs = [k for k in KEYS if getattr(config, k) != update[k]]
    note = None
    if differs and not config.source.startswith("<"):
        note = (f"{config.source} differs from {source} in {', '.join(differs)}: "
                f"the trusted {source} is used")  # fmt: skip
    return Trusted(config.model_copy(update=update), source, note)
