"""`setup` through `run`: a tiny real Python project whose unittest suite gates the run.

origin/main holds the project and its repo.yaml (setup makes a venv and puts a vendored
dependency on its path; checks run the suite with the venv's Python). The scripted agent
edits the clone like claude would. Network-free: `--without-pip` and a `.pth` file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from agentspace import AGENT_PYTHON
from kagura_engineer.agent.user import NAME, is_root
from kagura_engineer.run.loop import run_issue

from .conftest import ScriptedAgent, ScriptedResult, writes

VENV = f"{AGENT_PYTHON} -m venv .venv --without-pip"
VENDOR = 'echo "$PWD/vendor" > "$(.venv/bin/python -c \'import sysconfig; print(sysconfig.get_paths()["purelib"])\')/vendor.pth"'
CHECK = ".venv/bin/python -m unittest -q"
SETUP = [VENV, VENDOR]

CALC_BROKEN = "from money import cents\n\ndef add(a, b):\n    return a - b\n\ndef sub(a, b):\n    return a - b\n\ndef total(a):\n    return cents(a)\n"
CALC_FIXED = CALC_BROKEN.replace("return a - b\n\ndef sub", "return a + b\n\ndef sub")
CALC_BOTH_BROKEN = CALC_BROKEN.replace("def sub(a, b):\n    return a - b", "def sub(a, b):\n    return b - a")
TESTS = """import unittest
import calc

class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(calc.add(2, 3), 5)

    def test_sub_keeps_order(self):
        self.assertEqual(calc.sub(5, 3), 2)

    def test_total_in_cents(self):
        self.assertEqual(calc.total(2), 200)
"""


def commit_project(repo: Path, config: dict, extra: dict[str, str] | None = None) -> None:
    files = {"calc.py": CALC_BROKEN, "test_calc.py": TESTS, "vendor/money.py": "def cents(x):\n    return x * 100\n",
             "repo.yaml": yaml.safe_dump(config), **(extra or {})}  # fmt: skip
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "project"], cwd=repo, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo, check=True)


def trusted(**extra) -> dict:
    return {"profile": "calc", "memory_backend": "local", "setup": SETUP, "checks": [CHECK], **extra}


def test_setup_prepares_the_clone_and_a_fix_that_makes_the_suite_pass_ships_green(world, capsys):
    commit_project(world.repo, trusted())
    agent = ScriptedAgent([writes("calc.py", CALC_FIXED)])
    # the checkout's own config names no checks: the trusted origin/main:repo.yaml wins
    outcome = run_issue(world.context(agent))
    assert outcome.status == "shipped" and outcome.verdict == "green", outcome.reason
    setup = next(p for p in outcome.phases if p["name"] == "setup")
    assert setup["state"] == "done"
    assert [p["name"] for p in outcome.phases].index("setup") < [p["name"] for p in outcome.phases].index(
        "implement"
    )
    # what setup made stays out of the branch
    assert world.origin_file(outcome.branch, "calc.py") == CALC_FIXED
    assert world.origin_file(outcome.branch, ".venv/pyvenv.cfg") is None
    clone = Path(agent.calls[0]["cwd"])
    assert (clone / ".venv" / "pyvenv.cfg").is_file()  # the venv was there when the agent started
    if is_root():
        import pwd

        assert (clone / ".venv").stat().st_uid == pwd.getpwnam(NAME).pw_uid  # made by the agent user
    body = world.pulls()[0]["body"]
    assert f"✅ `{CHECK}`" in body
    assert "── setup: 2 command(s)" in capsys.readouterr().err


def test_a_change_that_breaks_the_suite_is_red_naming_the_failing_test(world):
    commit_project(world.repo, trusted(retries=0))
    agent = ScriptedAgent([writes("calc.py", CALC_BOTH_BROKEN)])
    outcome = run_issue(world.context(agent))
    assert outcome.status == "blocked" and outcome.verdict == "red"
    assert "checks failing" in outcome.reason and "test_sub_keeps_order" in outcome.reason
    comment = world.github.issue_comments(7)[0]["body"]
    assert "test_sub_keeps_order" in comment


def test_setup_failure_is_its_own_red_reason_and_the_agent_never_starts(world):
    commit_project(world.repo, trusted(setup=[VENV, "echo 'resolver: no matching distribution' >&2; exit 3"]))
    agent = ScriptedAgent([writes("calc.py", CALC_FIXED)])
    outcome = run_issue(world.context(agent))
    assert outcome.status == "blocked" and outcome.verdict == "red"
    assert outcome.reason.startswith(
        "setup failed: echo 'resolver: no matching distribution' >&2; exit 3 (exit 3)"
    )
    assert "no matching distribution" in outcome.reason  # the output's tail
    assert agent.calls == []
    assert next(p for p in outcome.phases if p["name"] == "setup")["state"] == "failed"
    assert "setup failed" in world.github.issue_comments(7)[0]["body"]
    # the half-made venv was not pushed with the red run's work
    branches = world.origin_branches()
    assert all(world.origin_file(b, ".venv/pyvenv.cfg") is None for b in branches)


def test_a_repo_yaml_edited_on_the_branch_or_in_the_checkout_changes_nothing_the_gate_runs(
    world, capsys, tmp_path
):
    commit_project(world.repo, trusted(retries=0))
    marker = tmp_path / "pwned"
    # the run's branch already exists on origin, with a repo.yaml that would wave anything through
    branch = "kagura/7-add-a-greeting-file"
    subprocess.run(["git", "checkout", "-qb", branch], cwd=world.repo, check=True)
    (world.repo / "repo.yaml").write_text(yaml.safe_dump(
        {"profile": "x", "memory_backend": "local", "setup": [f"touch {marker}"], "checks": ["true"]}))  # fmt: skip
    subprocess.run(["git", "commit", "-qam", "relax the checks"], cwd=world.repo, check=True)
    subprocess.run(["git", "push", "-q", "origin", branch], cwd=world.repo, check=True)
    # and the checkout's work tree has it too (a PR branch checked out), read as the run's config
    cfg_path = world.repo / "repo.yaml"

    def breaks_and_relaxes(cwd: Path) -> ScriptedResult:
        (cwd / "calc.py").write_text(CALC_BOTH_BROKEN)
        (cwd / "repo.yaml").write_text(
            yaml.safe_dump({"profile": "x", "memory_backend": "local", "checks": ["true"]})
        )
        return ScriptedResult(files_changed=["calc.py", "repo.yaml"])

    ctx = world.context(ScriptedAgent([breaks_and_relaxes]))
    ctx.config = ctx.config.model_copy(update={"source": str(cfg_path), "checks": ["true"], "setup": []})
    outcome = run_issue(ctx)
    assert outcome.verdict == "red" and "test_sub_keeps_order" in outcome.reason
    assert not marker.exists()  # the branch's setup never ran
    err = capsys.readouterr().err
    assert (
        "differs from origin/main:repo.yaml in setup, checks: the trusted origin/main:repo.yaml is used"
        in err
    )


def test_a_config_file_only_in_the_checkout_is_not_trusted(world, capsys):
    (world.repo / "repo.yaml").write_text(yaml.safe_dump(trusted()))  # never committed to main
    ctx = world.context(ScriptedAgent([writes("calc.py", CALC_FIXED)]))
    ctx.config = ctx.config.model_copy(update={"source": str(world.repo / "repo.yaml"), "checks": ["false"]})
    outcome = run_issue(ctx)
    assert outcome.verdict == "yellow"  # no checks are trusted, none ran
    assert "repo.yaml is not on origin/main: its setup and checks are not trusted" in capsys.readouterr().err


def test_setup_never_sees_a_secret(world, monkeypatch, tmp_path):
    secrets = {"GITHUB_TOKEN": "ghs_setupSecret000000000000000000000000", "ANTHROPIC_API_KEY": "sk-ant-api03-setup-0000",
               "KAGURA_API_KEY": "kagura_setupsecret_000000000000000000", "ACTIONS_RUNTIME_TOKEN": "runtime-secret-1"}  # fmt: skip
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    root_env = tmp_path / "root-env.txt"
    commit_project(
        world.repo, trusted(setup=[*SETUP, "env > agent-env.txt", {"run": f"env > {root_env}", "as": "root"}])
    )
    agent = ScriptedAgent([writes("calc.py", CALC_FIXED)])
    outcome = run_issue(world.context(agent))
    assert outcome.verdict == "green", outcome.reason
    agent_env = (Path(agent.calls[0]["cwd"]) / "agent-env.txt").read_text()
    for value in secrets.values():
        assert value not in agent_env
    if is_root():
        assert f"USER={NAME}" in agent_env
        text = root_env.read_text()
        assert "DEBIAN_FRONTEND=noninteractive" in text and not any(v in text for v in secrets.values())
    assert world.origin_file(outcome.branch, "agent-env.txt") is None  # made by setup: never committed


def test_the_agent_is_allowed_to_run_the_trusted_checks(world):
    from kagura_engineer.agent.driver import allowed_tools_for

    commit_project(world.repo, trusted())
    agent = ScriptedAgent([writes("calc.py", CALC_FIXED)])
    run_issue(world.context(agent, checks=["make lint"]))
    config = agent.calls[0]["config"]
    assert config.checks == [CHECK]
    assert f"Bash({CHECK})" in allowed_tools_for(config) and "Bash(make lint)" not in allowed_tools_for(
        config
    )
    assert CHECK in agent.calls[0]["prompt"]


@pytest.mark.skipif(not is_root(), reason="the cache is unpacked as the agent user only when root")
def test_setup_cache_restores_a_venv_owned_by_the_agent_and_saves_only_on_a_miss(world, monkeypatch):
    import pwd

    from support.actions_cache import ActionsCacheStandIn

    config = trusted(setup_cache={"paths": [".venv"], "key_files": ["requirements*.txt"]})
    commit_project(world.repo, config, {"requirements.txt": "money==1\n"})
    world.github.add_issue(8, "Second", "Another.")
    with ActionsCacheStandIn(token="rt-0123456789") as cache:
        monkeypatch.setenv("ACTIONS_RESULTS_URL", cache.url + "/")
        monkeypatch.setenv("ACTIONS_RUNTIME_TOKEN", "rt-0123456789")
        monkeypatch.setenv("KAGURA_CACHE_RETRY_SECONDS", "0")
        first = run_issue(world.context(ScriptedAgent([writes("calc.py", CALC_FIXED)])))
        assert first.verdict == "green", first.reason
        assert len(cache.finalized()) == 1  # a miss, then saved
        key = cache.finalized()[0].key
        agent = ScriptedAgent([writes("calc.py", CALC_FIXED)])
        second = run_issue(world.context(agent, issue=8))
        assert second.verdict == "green", second.reason
        assert len(cache.finalized()) == 1  # an exact hit is not saved again
    clone = Path(agent.calls[0]["cwd"])
    uid = pwd.getpwnam(NAME).pw_uid
    assert all(p.lstat().st_uid == uid for p in [clone / ".venv", *(clone / ".venv").rglob("*")])
    assert key.startswith("kagura-setup-")
    # the venv was made in issue 7's clone: its own paths now name this one (scripts keep working)
    activate = (clone / ".venv" / "bin" / "activate").read_text()
    assert str(clone.resolve()) in activate and "issue-7" not in activate
    assert not (clone / ".kagura-setup-origin").exists()


def test_setup_runs_every_job_even_when_the_savepoint_says_it_was_done(world, tmp_path):
    count = tmp_path / "count"
    commit_project(world.repo, trusted(setup=[*SETUP, {"run": f"echo x >> {count}", "as": "root"}]))
    agent = ScriptedAgent([lambda cwd: ScriptedResult(status="blocked", notes="need a person")])
    first = run_issue(world.context(agent))
    assert first.verdict == "red"
    assert [p["state"] for p in first.phases if p["name"] == "setup"] == ["done"]
    second = run_issue(world.context(ScriptedAgent([writes("calc.py", CALC_FIXED)])))  # the resumed run
    assert second.verdict == "green", second.reason
    if is_root():
        assert count.read_text().count("x") == 2


class FakeLaunch:
    """What agent.driver.launch_agent returns, over a scripted agent: records what happens to it."""

    def __init__(self, agent: ScriptedAgent, kwargs: dict, key: tuple | None = None) -> None:
        from kagura_engineer.agent.driver import AgentLaunch

        self.agent, self.kwargs = agent, kwargs
        started = key or tuple(kwargs[k] for k in ("cwd", "config", "resume", "max_usd", "max_turns"))
        self.matches = AgentLaunch(started_with=(str(started[0]), *started[1:])).matches  # the real rule
        self.setup_had_run = (Path(kwargs["cwd"]) / ".venv").exists()
        self.ran = self.cancelled = False

    def run(self, prompt: str, **callbacks):
        self.ran = True
        return self.agent(prompt=prompt, **self.kwargs, **callbacks)

    def cancel(self) -> None:
        self.cancelled = True


class Launcher:
    def __init__(self, agent: ScriptedAgent, key: tuple | None = None) -> None:
        self.agent, self.key, self.made = agent, key, []

    def __call__(self, **kwargs) -> FakeLaunch:
        self.made.append(FakeLaunch(self.agent, kwargs, self.key))
        return self.made[-1]


def test_claude_is_launched_before_setup_and_is_what_the_prompt_goes_to(world):
    commit_project(world.repo, trusted())
    launched = ScriptedAgent([writes("calc.py", CALC_FIXED)])
    spawned = ScriptedAgent([writes("calc.py", CALC_FIXED)])
    ctx = world.context(spawned)
    ctx.launch = launcher = Launcher(launched)
    outcome = run_issue(ctx)
    assert outcome.status == "shipped" and outcome.verdict == "green", outcome.reason
    [launch] = launcher.made
    assert not launch.setup_had_run and launch.ran and not launch.cancelled
    assert spawned.calls == [] and "Add a greeting file" in launched.calls[0]["prompt"]
    assert launch.kwargs["resume"] is None and launch.kwargs["max_turns"] == world.config().budget.max_turns
    # claude's allow-list is built from the base branch's repo.yaml, not the checkout's (no checks)
    assert ctx.config.checks == [] and launch.kwargs["config"].checks == [CHECK]


def test_a_launch_for_other_arguments_is_dropped_and_one_never_used_is_cancelled(world):
    commit_project(world.repo, trusted())
    launched = ScriptedAgent([writes("calc.py", CALC_FIXED)])
    spawned = ScriptedAgent([writes("calc.py", CALC_FIXED)])
    ctx = world.context(spawned)
    ctx.launch = launcher = Launcher(launched, key=("another clone", None, None, 1.0, 1))
    assert run_issue(ctx).status == "shipped"
    assert launcher.made[0].cancelled and not launcher.made[0].ran and len(spawned.calls) == 1

    world.github.add_issue(9, "Another", "More work.")
    commit_project(world.repo, trusted(setup=[VENV, "exit 3"]))
    ctx = world.context(spawned, issue=9)
    ctx.launch = launcher = Launcher(launched)
    assert run_issue(ctx).status == "blocked"  # setup failed: the launched claude is not left running
    assert launcher.made[0].cancelled and not launcher.made[0].ran
