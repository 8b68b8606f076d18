"""Finding claude, reading its version, installing it at the pin (with fake npm/claude programs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kagura_engineer import CLAUDE_CODE_VERSION
from kagura_engineer.agent.install import (
    cache_prefix,
    claude_version,
    find_claude,
    install_claude,
    install_command,
    prefix_binary,
    version_warning,
)
from kagura_engineer.errors import AgentError, NeedsUserError

FAKE_NPM = """#!{python}
# a stand-in for npm: logs its argv; `install --prefix P pkg@V` leaves P/node_modules/.bin/claude
import json, os, sys
args = sys.argv[1:]
with open({log!r}, "a") as fh:
    fh.write(json.dumps(args) + "\\n")
mode = {mode!r}
if mode == "fail":
    sys.stderr.write("npm ERR! 404 Not Found\\n")
    sys.exit(1)
prefix = args[args.index("--prefix") + 1]
version = args[-1].rsplit("@", 1)[1]
if mode == "wrong":
    version = "2.1.197"
if mode != "nothing":
    os.makedirs(os.path.join(prefix, "node_modules", ".bin"), exist_ok=True)
    path = os.path.join(prefix, "node_modules", ".bin", "claude")
    with open(path, "w") as fh:
        fh.write("#!/bin/sh\\necho '%s (Claude Code)'\\n" % version)
    os.chmod(path, 0o755)
"""


def program(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str = "ok") -> Path:
    bindir = tmp_path / "bin"
    log = tmp_path / "npm.log"
    program(bindir / "npm", FAKE_NPM.format(python=sys.executable, log=str(log), mode=mode))
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_kagura_claude_bin_overrides_path(tmp_path):
    mine = program(tmp_path / "mine" / "claude", "#!/bin/sh\necho 1.0.0\n")
    program(tmp_path / "bin" / "claude", "#!/bin/sh\necho 2.0.0\n")
    environ = {"PATH": str(tmp_path / "bin"), "KAGURA_CLAUDE_BIN": str(mine)}
    assert find_claude(environ) == str(mine)
    assert find_claude({"PATH": str(tmp_path / "bin")}) == str(tmp_path / "bin" / "claude")
    assert find_claude({"PATH": str(tmp_path / "nowhere")}) is None


def test_what_the_cache_holds_is_found_before_path_and_after_kagura_claude_bin(tmp_path, monkeypatch):
    fake_npm(tmp_path, monkeypatch)
    program(tmp_path / "bin" / "claude", "#!/bin/sh\necho 2.0.0\n")
    environ = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path / "home")}
    assert find_claude(environ) == str(tmp_path / "bin" / "claude")  # nothing cached yet
    prefix = cache_prefix(environ)
    assert prefix == tmp_path / "home" / ".cache" / "kagura-engineer" / f"claude-{CLAUDE_CODE_VERSION}"
    installed = install_claude(prefix)  # what the demo does
    assert find_claude(environ) == installed == str(prefix_binary(prefix))
    mine = program(tmp_path / "mine" / "claude", "#!/bin/sh\necho 1.0.0\n")
    assert find_claude({**environ, "KAGURA_CLAUDE_BIN": str(mine)}) == str(mine)
    xdg = {**environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert cache_prefix(xdg) == tmp_path / "xdg" / "kagura-engineer" / f"claude-{CLAUDE_CODE_VERSION}"
    assert find_claude(xdg) == str(tmp_path / "bin" / "claude")


def test_a_kagura_claude_bin_that_cannot_run_is_not_found(tmp_path):
    text = tmp_path / "claude.txt"
    text.write_text("not a program")
    assert find_claude({"PATH": "", "KAGURA_CLAUDE_BIN": str(text)}) is None
    assert find_claude({"PATH": "", "KAGURA_CLAUDE_BIN": str(tmp_path / "missing")}) is None


def test_version_is_read_from_the_binary_and_other_versions_only_warn(tmp_path):
    good = program(tmp_path / "a" / "claude", f"#!/bin/sh\necho '{CLAUDE_CODE_VERSION} (Claude Code)'\n")
    old = program(tmp_path / "b" / "claude", "#!/bin/sh\necho '2.1.197 (Claude Code)'\n")
    broken = program(tmp_path / "c" / "claude", "#!/bin/sh\necho boom >&2; exit 3\n")
    assert claude_version(good) == CLAUDE_CODE_VERSION and version_warning(claude_version(good)) is None
    assert claude_version(old) == "2.1.197"
    warning = version_warning("2.1.197")
    assert "2.1.197" in warning and CLAUDE_CODE_VERSION in warning
    assert claude_version(broken) is None and "unknown version" in version_warning(None)
    assert claude_version(tmp_path / "missing") is None


def test_install_at_the_pin_into_a_prefix_then_reuse_it(tmp_path, monkeypatch):
    log = fake_npm(tmp_path, monkeypatch)
    prefix = tmp_path / "tools" / "claude"
    path = install_claude(prefix)
    assert path == str(prefix_binary(prefix)) and claude_version(path) == CLAUDE_CODE_VERSION
    expected = install_command(prefix)
    assert calls(log) == [expected[1:]]
    assert expected[-1] == f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}"  # exact, never a range
    assert install_claude(prefix) == path and len(calls(log)) == 1  # already there: npm not run again


def test_install_failures_are_clear(tmp_path, monkeypatch):
    fake_npm(tmp_path, monkeypatch, mode="fail")
    with pytest.raises(AgentError, match="404 Not Found"):
        install_claude(tmp_path / "p1")
    fake_npm(tmp_path, monkeypatch, mode="nothing")
    with pytest.raises(AgentError, match="reports nothing"):
        install_claude(tmp_path / "p2")
    fake_npm(tmp_path, monkeypatch, mode="wrong")
    with pytest.raises(AgentError, match="reports 2.1.197"):
        install_claude(tmp_path / "p3")


def test_install_without_npm_needs_the_user(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(NeedsUserError, match="needs npm"):
        install_claude(tmp_path / "prefix")
