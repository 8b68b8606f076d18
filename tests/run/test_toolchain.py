"""Who runs each setup command, apt's package lists on demand, and a hostile setup cache entry."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from fakebin import FakeBin
from kagura_engineer.config import parse_config
from kagura_engineer.toolchain import setup as toolchain


def config(**data):
    return parse_config({"profile": "t", "memory_backend": "local", **data})


@pytest.mark.parametrize(
    ("command", "root"),
    [
        ("apt-get install -y nodejs npm", True),
        ("DEBIAN_FRONTEND=noninteractive apt-get install -y golang-go", True),
        ("/usr/bin/apt install -y cargo", True),
        ("dpkg -i vendor/tool.deb", True),
        ("apt-get", True),
        ("aptitude install x", False),
        ("echo apt-get install -y x", False),
        ("npm ci", False),
        ("python3 -m venv .venv", False),
        (".venv/bin/pip install -e '.[test]'", False),
    ],
)
def test_package_installs_run_as_root_everything_else_as_the_agent(command, root):
    assert toolchain.needs_root(command) is root


def test_the_explicit_form_overrides_the_detection():
    planned = toolchain.steps(config(setup=["apt-get install -y x", {"run": "make toolchain", "as": "root"},
                                            {"run": "apt-get download x", "as": "agent"}, "npm ci"]))  # fmt: skip
    assert [(s.command, s.root) for s in planned] == [
        ("apt-get install -y x", True), ("make toolchain", True), ("apt-get download x", False), ("npm ci", False)
    ]  # fmt: skip


def test_apt_lists_are_fetched_once_before_the_first_apt_command_when_the_image_has_none(
    tmp_path, monkeypatch
):
    fb = FakeBin(tmp_path)
    fb.add("apt-get")
    fb.link("bash")
    fb.use(monkeypatch)
    lists = tmp_path / "lists"
    lists.mkdir()
    monkeypatch.setattr(toolchain, "APT_LISTS", lists)
    planned = toolchain.steps(config(setup=["apt-get install -y nodejs", "apt-get install -y npm"]))
    toolchain.run_setup(planned, clone=tmp_path, user=None, timeout=30, say=lambda line: None, is_root=True)
    assert fb.calls("apt-get") == [["apt-get", "update"], ["apt-get", "install", "-y", "nodejs"],
                                   ["apt-get", "install", "-y", "npm"]]  # fmt: skip
    assert {r["env"].get("DEBIAN_FRONTEND") for r in fb.records()} == {"noninteractive"}


def test_no_update_when_the_lists_are_there(tmp_path, monkeypatch):
    fb = FakeBin(tmp_path)
    fb.add("apt-get")
    fb.link("bash")
    fb.use(monkeypatch)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages").write_text("Package: x\n")
    monkeypatch.setattr(toolchain, "APT_LISTS", lists)
    planned = toolchain.steps(config(setup=["apt-get install -y nodejs"]))
    toolchain.run_setup(planned, clone=tmp_path, user=None, timeout=30, say=lambda line: None, is_root=True)
    assert fb.calls("apt-get") == [["apt-get", "install", "-y", "nodejs"]]


def test_not_root_skips_root_commands_with_a_line_and_runs_the_rest(tmp_path):
    lines: list[str] = []
    planned = toolchain.steps(config(setup=["apt-get install -y nodejs", "echo ran > out.txt"]))
    report = toolchain.run_setup(
        planned, clone=tmp_path, user=None, timeout=30, say=lines.append, is_root=False
    )
    assert (tmp_path / "out.txt").read_text() == "ran\n"
    assert [r.who for r in report.runs] == ["skipped", "agent"]
    assert any("apt-get install -y nodejs" in line and "skipped" in line for line in lines)
    assert "1 skipped (not root)" in report.detail()


def test_a_failure_stops_setup_and_names_the_command_with_the_redacted_tail(tmp_path):
    token = "ghp_" + "a" * 36
    planned = toolchain.steps(config(setup=[f"echo 'auth {token} refused' >&2; exit 7", "touch never"]))
    with pytest.raises(toolchain.SetupFailed) as caught:
        toolchain.run_setup(
            planned, clone=tmp_path, user=None, timeout=30, say=lambda line: None, is_root=False
        )
    assert caught.value.reason == f"setup failed: echo 'auth {token} refused' >&2; exit 7 (exit 7)"
    assert caught.value.detail == "auth *** refused"
    assert not (tmp_path / "never").exists()


def test_a_hostile_setup_cache_entry_restores_only_the_configured_paths(world, monkeypatch, tmp_path):
    """An entry anyone with the cache token could have saved: members outside `paths` stay packed."""
    from kagura_engineer.cache import setup_cache
    from kagura_engineer.run.loop import run_issue
    from support.actions_cache import ActionsCacheStandIn

    from .conftest import ScriptedAgent, ScriptedResult
    from .test_setup import CALC_BROKEN, CALC_FIXED, commit_project, trusted

    commit_project(world.repo, trusted(setup_cache={"paths": [".venv"], "key_files": ["calc.py"]}))
    members = {
        ".venv/planted.txt": b"from the cache\n",
        "calc.py": b"hostile = True\n",
        "test_calc.py": b"\n",
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    packed = subprocess.run(
        ["zstd", "-q", "-c"], input=buf.getvalue(), capture_output=True, check=True
    ).stdout
    seen: dict[str, str] = {}

    def look(cwd: Path) -> ScriptedResult:
        seen["calc"] = (cwd / "calc.py").read_text()
        seen["planted"] = (cwd / ".venv" / "planted.txt").read_text()
        (cwd / "calc.py").write_text(CALC_FIXED)
        return ScriptedResult(files_changed=["calc.py"])

    with ActionsCacheStandIn(token="rt-0123456789") as cache:
        cache.add_entry(setup_cache._prefix() + "planted", setup_cache._version([".venv"]), packed)
        monkeypatch.setenv("ACTIONS_RESULTS_URL", cache.url + "/")
        monkeypatch.setenv("ACTIONS_RUNTIME_TOKEN", "rt-0123456789")
        outcome = run_issue(world.context(ScriptedAgent([look])))
        saved = [e.key for e in cache.finalized() if not e.key.endswith("planted")]
    assert outcome.verdict == "green", outcome.reason
    assert seen == {"calc": CALC_BROKEN, "planted": "from the cache\n"}
    assert len(saved) == 1  # an older entry restored, not the exact key: this job's venv is saved


def test_root_commands_run_outside_the_clone(tmp_path):
    """The clone holds files the agent or a PR wrote: root never runs there."""
    out = tmp_path / "cwd.txt"
    clone = tmp_path / "clone"
    clone.mkdir()
    planned = toolchain.steps(config(setup=[{"run": f"pwd > {out}", "as": "root"}]))
    toolchain.run_setup(planned, clone=clone, user=None, timeout=30, say=lambda line: None, is_root=True)
    assert out.read_text() == "/\n"
