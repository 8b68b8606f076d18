"""Finding the `claude` executable, reading its version, and installing it at the pin.

Where `claude` is looked for, in order: `KAGURA_CLAUDE_BIN`; the kagura-engineer cache
(`$XDG_CACHE_HOME` or `~/.cache`, then `kagura-engineer/claude-<pin>`), where `setup --fix
claude-code` and the demo install it; `claude` on `PATH`. `run` uses whatever it finds; a
version other than `CLAUDE_CODE_VERSION` is a warning, never a refusal and never an install.
Installing is for `setup`, the demo and the test tooling, always into an explicit npm prefix
(never `npm install -g`) and at an exact version: a bare or caret install on Node 20
silently resolves an older CLI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from kagura_engineer import CLAUDE_CODE_VERSION, proc
from kagura_engineer.errors import AgentError, NeedsUserError

PACKAGE = "@anthropic-ai/claude-code"
#: What an install at the pin leaves on disk (`du -sh` of the prefix, linux-x64, 2.1.331).
INSTALL_SIZE = "about 381 MB"
_VERSION = re.compile(r"\b(\d+\.\d+\.\d+(?:[-+][\w.]+)?)\b")


def cache_prefix(environ: Mapping[str, str] | None = None, version: str = CLAUDE_CODE_VERSION) -> Path:
    """The npm prefix `setup` and the demo install claude into: one per pinned version."""
    environ = os.environ if environ is None else environ
    xdg = (environ.get("XDG_CACHE_HOME") or "").strip()
    home = (environ.get("HOME") or "").strip()
    base = Path(xdg) if xdg else (Path(home) if home else Path.home()) / ".cache"
    return base / "kagura-engineer" / f"claude-{version}"


def cached_claude(environ: Mapping[str, str] | None = None) -> str | None:
    """The claude installed in the cache at the pin, or None."""
    binary = prefix_binary(cache_prefix(environ))
    return str(binary) if binary.is_file() and os.access(binary, os.X_OK) else None


def find_claude(environ: Mapping[str, str] | None = None) -> str | None:
    """`KAGURA_CLAUDE_BIN` when set (None if it is not executable), else the cached install,
    else `claude` on PATH."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("KAGURA_CLAUDE_BIN")
    if explicit:
        return explicit if os.path.isfile(explicit) and os.access(explicit, os.X_OK) else None
    return cached_claude(environ) or proc.which("claude", path=environ.get("PATH"))


def claude_version(path: str | os.PathLike[str]) -> str | None:
    """The version `claude --version` reports (e.g. "2.1.331"), or None when it cannot tell."""
    result = proc.run([os.fspath(path), "--version"], timeout=30)
    if not result.ok:
        return None
    match = _VERSION.search(result.stdout)
    return match.group(1) if match else None


def version_warning(version: str | None, pin: str = CLAUDE_CODE_VERSION) -> str | None:
    """A one-line warning when `version` is not the pin (None when it is)."""
    if version == pin:
        return None
    found = f"claude {version}" if version else "a claude of unknown version"
    return f"{found} found; kagura-engineer is tested with {pin} (kagura-engineer setup --fix claude-code)"


def prefix_binary(prefix: str | os.PathLike[str]) -> Path:
    """Where `npm install --prefix PREFIX` links the executable."""
    return Path(prefix) / "node_modules" / ".bin" / "claude"


def install_command(prefix: str | os.PathLike[str], version: str = CLAUDE_CODE_VERSION) -> list[str]:
    """The npm argv that installs the CLI at `version` into `prefix`."""
    return [
        "npm",
        "install",
        "--no-audit",
        "--no-fund",
        "--prefix",
        os.fspath(prefix),
        f"{PACKAGE}@{version}",
    ]


def install_claude(
    prefix: str | os.PathLike[str], version: str = CLAUDE_CODE_VERSION, *, timeout: float = 1800.0
) -> str:
    """Install the CLI at `version` into `prefix` (idempotent) and return the executable's path.

    About 381 MB on disk (INSTALL_SIZE), from the npm registry; nothing else is downloaded. npm prints an EBADENGINE
    warning on Node 20 for 2.1.198+; it is harmless (the executable is native, not Node).
    """
    binary = prefix_binary(prefix)
    if binary.exists() and claude_version(binary) == version:
        return str(binary)
    if proc.which("npm") is None:
        raise NeedsUserError(
            f"installing {PACKAGE}@{version} needs npm, which is not on PATH",
            hint="install Node.js and npm (https://nodejs.org), or point KAGURA_CLAUDE_BIN at a claude binary",
        )
    Path(prefix).mkdir(parents=True, exist_ok=True)
    result = proc.run(install_command(prefix, version), timeout=timeout, passthrough=NPM_ENV)
    if not result.ok:
        raise AgentError(
            f"npm install {PACKAGE}@{version} failed: {result.tail(400)}", hint="check npm's registry access"
        )
    found = claude_version(binary) if binary.exists() else None
    if found != version:
        raise AgentError(
            f"npm installed {PACKAGE}@{version} into {prefix}, but {binary} reports {found or 'nothing'}",
            hint="npm may have skipped the package's postinstall (--ignore-scripts); rerun without it",
        )
    return str(binary)


#: npm's own settings a user may rely on (registry, proxy, cache); none are secrets we add.
NPM_ENV = (
    "NPM_CONFIG_REGISTRY", "npm_config_registry", "NPM_CONFIG_CACHE", "npm_config_cache",
    "NPM_CONFIG_USERCONFIG", "npm_config_userconfig",
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """`python -m kagura_engineer.agent.install --prefix DIR`: install at the pin, print the path."""
    import argparse
    import sys

    from kagura_engineer.errors import KaguraError

    parser = argparse.ArgumentParser(
        description=f"install {PACKAGE} at a version (default: the pin) into an npm prefix"
    )
    parser.add_argument("--prefix", required=True, help="npm prefix, e.g. .tools/claude")
    parser.add_argument("--version", default=CLAUDE_CODE_VERSION)
    args = parser.parse_args(argv)
    try:
        print(install_claude(args.prefix, args.version))
    except KaguraError as exc:
        print(f"error[{exc.code}]: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
