"""The agent user and its clone: what a process of the agent can and cannot reach.

These run as root (CI and the container are root); as another user they are skipped, since
no drop is possible there (the partial-isolation warning is tested on its own).
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from pathlib import Path

import pytest

from kagura_engineer import proc
from kagura_engineer.agent.clone import AgentClone
from kagura_engineer.agent.user import NAME, agent_space, harness_paths, isolate, lock_down
from kagura_engineer.git import Git, credential_env

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root")
TOKEN = "ghs_isolationTestToken000000000000000000"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KAGURA_AGENT_ROOT", str(Path("/tmp") / f"kagura-agent-test-{os.getpid()}"))
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "README.md").write_text("# widgets\n")
    for args in (["add", "."], ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "init"],
                 ["remote", "add", "origin", str(origin)], ["push", "-q", "origin", "main"]):  # fmt: skip
        git(work, *args)
    return work


def clone_of(work: Path) -> AgentClone:
    space = agent_space(work)
    harness = Git(work)
    clone = AgentClone(
        harness, space.clone_path("issue-7"), "kagura/7-x", space.user, "refs/kagura/agent/issue-7"
    )
    clone.create(harness.head())
    return clone


@root_only
def test_a_child_run_as_the_agent_has_no_groups_and_cannot_read_the_harness_environ(checkout: Path) -> None:
    space = agent_space(checkout)
    assert space.user is not None and space.user.name == NAME and space.user.uid != 0
    script = 'id -u; id -G; cat /proc/$PPID/environ >/dev/null 2>&1 && echo READ || echo DENIED; echo "$HOME"'
    result = proc.run(["bash", "-c", script], user=space.user, timeout=30)
    uid, groups, environ, home = result.stdout.split("\n")[:4]
    assert int(uid) == space.user.uid
    assert groups.split() == [str(space.user.gid)]  # no supplementary groups
    assert environ == "DENIED"
    assert home == space.user.home and Path(home).stat().st_uid == space.user.uid


@root_only
def test_the_agents_space_is_its_own_and_private(checkout: Path) -> None:
    space = agent_space(checkout)
    for path in (space.base, Path(space.user.home), Path(space.tmp), Path(space.config_dir)):
        st = path.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (space.user.uid, 0o700), path


@root_only
def test_lock_down_closes_the_checkout_runner_temp_and_file_commands(checkout: Path, tmp_path: Path) -> None:
    temp, commands = tmp_path / "runner_temp", tmp_path / "file_commands"
    for d in (temp, commands):
        d.mkdir()
        d.chmod(0o755)
    checkout.chmod(0o755)
    env = {"RUNNER_TEMP": str(temp), "GITHUB_OUTPUT": str(commands / "set_output_1"), "HOME": "/"}
    isolate(checkout, environ={**env, "KAGURA_AGENT_ROOT": os.environ["KAGURA_AGENT_ROOT"]})
    space = agent_space(checkout)
    for d in (checkout, temp, commands):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    probe = proc.run(
        ["bash", "-c", f"ls {checkout}/.git; ls {temp}; ls {commands}"], user=space.user, timeout=30
    )
    assert probe.returncode != 0 and probe.stderr.count("Permission denied") == 3
    assert str(checkout) in harness_paths(checkout, env) and "/" not in lock_down(["/"])


@root_only
def test_the_clone_is_the_agents_with_no_remote_and_the_checkout_config_untouched(checkout: Path) -> None:
    before = (checkout / ".git" / "config").read_bytes()
    clone = clone_of(checkout)
    assert clone.path.stat().st_uid == clone.user.uid
    assert all(p.stat().st_uid == clone.user.uid for p in clone.path.rglob("*"))
    remotes = clone.agent_git("remote").stdout.split()
    assert remotes == []  # no remote at all: neither the real origin nor the checkout
    assert (checkout / ".git" / "config").read_bytes() == before
    assert not list((checkout / ".git").glob("worktrees/*"))  # not a worktree sharing the checkout's .git


@root_only
def test_work_comes_out_over_the_pack_protocol_without_running_the_agents_config_as_root(
    checkout: Path, tmp_path: Path
) -> None:
    clone = clone_of(checkout)
    marker = tmp_path / "ran"
    marker_dir = Path(clone.user.tmp)
    hook = f"#!/bin/sh\nid -u >> {marker_dir}/hook-uid\ntouch {marker}\n"
    hooks = clone.path / ".git" / "hooks"
    for name in ("pre-commit", "post-commit", "pre-push", "post-checkout", "reference-transaction"):
        (hooks / name).write_text(hook)
        (hooks / name).chmod(0o755)
    fsmon = clone.path / "fsmon.sh"
    fsmon.write_text(hook)
    fsmon.chmod(0o755)
    for key, value in (("core.fsmonitor", str(fsmon)), ("uploadpack.packObjectsHook", str(fsmon)),
                       ("core.hooksPath", str(hooks))):  # fmt: skip
        clone.agent_git("config", key, value)
    (clone.path / "hello.txt").write_text("hi\n")
    assert clone.commit_all("kagura: work on #7")
    sha = clone.push("kagura/7-x")
    assert git(checkout.parent / "origin.git", "rev-parse", "refs/heads/kagura/7-x") == sha
    assert git(checkout.parent / "origin.git", "show", f"{sha}:hello.txt") == "hi"
    ran_as = (marker_dir / "hook-uid").read_text().split() if (marker_dir / "hook-uid").exists() else []
    assert "0" not in ran_as  # nothing the agent configured ever ran as root
    assert not marker.exists() or marker.stat().st_uid == clone.user.uid


@root_only
def test_received_objects_are_checked_a_dot_git_path_is_refused(checkout: Path) -> None:
    clone = clone_of(checkout)
    blob = clone.agent_git(
        "hash-object", "-w", "--stdin", input="[core]\n\tfsmonitor = evil\n"
    ).stdout.strip()
    tree = clone.agent_git("mktree", input=f"100644 blob {blob}\t.GIT\n").stdout.strip()
    bad = clone.agent_git("commit-tree", tree, "-m", "x", "-p", "HEAD").stdout.strip()
    clone.agent_git("update-ref", "HEAD", bad)
    with pytest.raises(Exception, match="fetch failed"):
        clone.collect()


def test_the_push_credential_goes_through_the_environment_once_and_resets_a_persisted_header() -> None:
    env = credential_env("https://github.com/acme/widgets.git", {"GITHUB_TOKEN": TOKEN})
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert env["GIT_CONFIG_COUNT"] == "2"
    assert (env["GIT_CONFIG_KEY_0"], env["GIT_CONFIG_VALUE_0"]) == (
        "http.https://github.com/.extraheader",
        "",
    )
    assert env["GIT_CONFIG_VALUE_1"] == f"AUTHORIZATION: basic {basic}"
    assert proc.redact(f"header {basic}") == "header ***"
    assert credential_env("/srv/origin.git", {"GITHUB_TOKEN": TOKEN}) == {}
    kept = credential_env("https://ghe.example/acme/w", {"GH_TOKEN": TOKEN, "GIT_CONFIG_COUNT": "1",
                          "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "/w"})  # fmt: skip
    assert (
        kept["GIT_CONFIG_KEY_0"] == "safe.directory"
        and kept["GIT_CONFIG_KEY_1"] == "http.https://ghe.example/.extraheader"
    )


def test_harness_git_never_carries_the_token_in_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], dict[str, str]]] = []
    real = proc.run

    def spy(argv, **kw):
        seen.append((list(argv), dict(kw.get("env") or {})))
        return real(argv, **kw)

    work = tmp_path / "w"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    git(work, "remote", "add", "origin", "https://127.0.0.1:9/acme/widgets.git")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setattr(proc, "run", spy)
    Git(work).run("ls-remote", "origin", check=False, timeout=10)
    argv, env = seen[-1]
    assert not any(TOKEN in a or "extraheader" in a for a in argv)
    assert "fsmonitor" in " ".join(argv) and "core.hooksPath=/dev/null" in argv
    assert any(k.startswith("GIT_CONFIG_VALUE") and v.startswith("AUTHORIZATION") for k, v in env.items())
    Git(work).run("rev-parse", "--git-dir")
    assert not any(v.startswith("AUTHORIZATION") for v in seen[-1][1].values())  # local commands get none


AS_NOBODY = """
import sys
from pathlib import Path
from kagura_engineer.agent.user import isolate, isolation_note
space = isolate(Path(sys.argv[1]), environ={})
isolate(Path(sys.argv[1]), environ={})  # a second call: still one line
print("USER", space.user, "NOTE", isolation_note() is not None)
"""


@root_only
def test_not_root_is_partial_isolation_with_one_warning_line(tmp_path: Path) -> None:
    from agentspace import AGENT_PYTHON

    space = agent_space(tmp_path)  # creates the account; its uid stands in for a laptop user
    work = Path(space.tmp) / "work"
    work.mkdir()
    os.chown(work, space.user.uid, space.user.gid)
    src = Path(__file__).resolve().parents[2] / "src"
    script = Path(space.tmp) / "probe.py"
    script.write_text(AS_NOBODY)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(src)}
    result = proc.run([AGENT_PYTHON, str(script), str(work)], user=space.user, env=env, timeout=60)
    if "No module named" in result.stderr:
        pytest.skip(f"the package's dependencies are not importable by {AGENT_PYTHON}")
    assert result.ok, result.stderr
    assert "USER None NOTE True" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: isolation is partial: " + warnings[0].split("partial: ", 1)[1]]
    assert (work / ".kagura" / "agent" / "home").is_dir()  # its space sits in the checkout's .kagura/


def test_doctor_says_how_the_agent_is_isolated() -> None:
    from kagura_engineer.agent.user import reachable_by_others
    from kagura_engineer.doctor.checks.isolation import check
    from kagura_engineer.doctor.context import DoctorContext

    outcome = check(DoctorContext(env={"PATH": "/usr/bin:/bin"}, cwd=Path.cwd(), config=None))
    if os.geteuid() == 0:
        assert outcome.status.name == "OK" and "kagura-agent" in outcome.detail
    else:
        assert outcome.status.name == "WARN" and "partial" in outcome.detail
    assert reachable_by_others("/bin/sh") and not reachable_by_others("/root/.bashrc")


@root_only
def test_a_claude_in_a_private_folder_is_run_through_a_link_the_agent_can_reach(tmp_path: Path) -> None:
    from kagura_engineer.agent.user import agent_executable

    private = tmp_path / "home" / ".cache" / "claude"
    private.parent.mkdir(parents=True)
    private.write_text("#!/bin/sh\necho claude-ok\n")
    private.chmod(0o755)
    linked = agent_executable(str(private))
    assert linked != str(private) and Path(linked).read_bytes() == private.read_bytes()
    space = agent_space(tmp_path)
    assert proc.run([linked], user=space.user, timeout=30).stdout.strip() == "claude-ok"
    assert (
        proc.run([str(private)], user=space.user, timeout=30).returncode != 0
    )  # the original is out of reach
    assert agent_executable(str(private)) == linked  # made once
    assert agent_executable("/bin/sh") == "/bin/sh"


def test_files_the_agent_wrote_are_read_as_data_never_through_a_link_or_a_fifo(tmp_path: Path) -> None:
    from kagura_engineer.agent.user import read_agent_file

    secret = tmp_path / "root-only"
    secret.write_text("root secret")
    (tmp_path / "report.json").write_text('{"ok": true}')
    (tmp_path / "link.json").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo.json")
    assert read_agent_file(tmp_path / "report.json") == '{"ok": true}'
    assert read_agent_file(tmp_path / "link.json") is None  # a symlink planted at the report's path
    assert read_agent_file(tmp_path / "fifo.json") is None  # would block a plain open()
    assert read_agent_file(tmp_path / "missing.json") is None
    assert read_agent_file(tmp_path / "report.json", limit=4) == '{"ok'


@root_only
def test_collect_fetches_only_when_the_agent_moved_its_head_and_always_takes_new_work(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = clone_of(checkout)
    fetches: list[str] = []
    real = clone.harness.run

    def counting(*args, **kw):
        if args and args[0] == "fetch":
            fetches.append(args[-1])
        return real(*args, **kw)

    monkeypatch.setattr(clone.harness, "run", counting)
    first = clone.collect()
    assert clone.collect() == first and len(fetches) == 1  # unchanged HEAD: nothing fetched
    (clone.path / "hello.txt").write_text("hi\n")
    assert clone.commit_all("kagura: work on #7")
    second = clone.collect()
    assert second != first and len(fetches) == 2
    assert git(checkout, "rev-parse", "refs/kagura/agent/issue-7") == second
    clone.create(first)  # a new clone: its first collect fetches again
    assert clone.collect() == first and len(fetches) == 3
