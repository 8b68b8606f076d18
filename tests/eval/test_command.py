"""`kagura-engineer eval` as a person types it: flags, output, summary, plot, busy, the Action."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import pytest

from kagura_engineer import cli
from kagura_engineer.action.dispatch import DispatchContext, command_call
from kagura_engineer.action.event import parse_event
from kagura_engineer.action.inputs import parse_inputs
from kagura_engineer.action.intent import decide
from kagura_engineer.config import parse_config
from kagura_engineer.errors import ConfigError
from kagura_engineer.eval.command import EvalOptions
from kagura_engineer.eval.command import execute as eval_execute
from kagura_engineer.eval.report import Report, RunRecord

from .conftest import LessonAgent, dump_store

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def cli_world(world, monkeypatch, tmp_path):
    """The CLI pointed at the world: its checkout, repo.yaml, the stand-in, a scripted agent."""
    import kagura_engineer.agent as agent_pkg
    import kagura_engineer.agent.preflight as preflight

    agent = LessonAgent()
    monkeypatch.setattr(agent_pkg, "drive_agent", agent)
    monkeypatch.setattr(preflight, "require_agent", lambda *a, **k: None)
    for key, value in world.github.env().items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "repo.yaml"
    config.write_text(json.dumps({"profile": "test", "memory_backend": "local", "local_memory_path": str(world.team_db),
                                  "checks": ["grep -q 'MAGIC=42' config.txt"], "retries": 0}))  # fmt: skip
    monkeypatch.chdir(world.repo)
    world.agent, world.config_path = agent, str(config)
    return world


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_on_stdout_and_the_table_in_the_step_summary(cli_world, capsys, monkeypatch, tmp_path):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    before = dump_store(cli_world.team_db)
    code, out, _err = run_cli(capsys, "eval", "--issues", "7", "-c", cli_world.config_path, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["issues"][0]["issue"] == 7
    assert data["on"]["verdicts"] == ["green"] and data["off"]["verdicts"] == ["red"]
    assert "| #7 | on | green | 100% |" in summary.read_text()
    assert cli_world.writes() == [] and dump_store(cli_world.team_db) == before


def test_the_table_on_stdout_without_json(cli_world, capsys):
    code, out, err = run_cli(capsys, "eval", "--issues", "#7", "--repeat", "1", "-c", cli_world.config_path)
    assert code == 0
    assert "| #7 | off | red | 0% |" in out and "1 of 1 — not significant" in out
    assert "eval #7 recall on" in err  # live progress lines


def test_milestone_picks_its_open_issues(cli_world, capsys):
    cli_world.github.add_milestone("v0.3")
    cli_world.github.add_issue(9, "Config again", "config.txt please", milestone="v0.3")
    code, out, _ = run_cli(capsys, "eval", "--milestone", "v0.3", "-c", cli_world.config_path, "--json")
    assert code == 0 and [i["issue"] for i in json.loads(out)["issues"]] == [9]
    code, _, err = run_cli(capsys, "eval", "--milestone", "nope", "-c", cli_world.config_path)
    assert code == 2 and "no milestone titled 'nope'" in err


def test_a_second_eval_at_the_same_time_is_busy(cli_world, capsys):
    from kagura_engineer.memory.lease import Holder, Lease, utcnow
    from kagura_engineer.memory.local import LocalMemory
    from kagura_engineer.memory.savepoint import Savepoint

    key = "eval/acme/widgets/evaluation"
    now = utcnow()
    lease = Lease(
        holder=Holder(host="elsewhere", pid=1, run_id="5"),
        acquired_at=now,
        expires_at=now + timedelta(hours=1),
    )
    with LocalMemory(cli_world.repo / ".kagura" / "eval" / "eval.db", semantic=False) as own:
        own.set_state("savepoint:" + key, {**Savepoint(key=key).model_dump(mode="json"),
                                           "lease": lease.model_dump(mode="json")})  # fmt: skip
    code, _, err = run_cli(capsys, "eval", "--issues", "7", "-c", cli_world.config_path)
    assert code == 2 and "error[busy]" in err and "elsewhere" in err
    assert cli_world.agent.calls == []


@pytest.mark.parametrize("argv", [
    ["eval"], ["eval", "--issues", "7", "--milestone", "v1"], ["eval", "--issues", "x"],
    ["eval", "--issues", "7", "--repeat", "0"], ["eval", "--issues", "7", "--max-usd", "0"],
])  # fmt: skip
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


def test_plot_without_matplotlib_is_one_line_naming_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    code, out, err = run_cli(capsys, "eval", "--issues", "7", "--plot", str(tmp_path / "x.png"))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error[config]: --plot needs matplotlib, which is not installed: pip install 'kagura-engineer[plot]'"
    ]
    assert not (tmp_path / "x.png").exists()


def test_plot_writes_a_png_of_paired_bars(tmp_path):
    pytest.importorskip("matplotlib")
    from kagura_engineer.eval.plot import write_plot

    records = [RunRecord(7, "on", 1, "green", "evaluated", cost_usd=0.2),
               RunRecord(7, "off", 1, "red", "blocked", cost_usd=0.4)]  # fmt: skip
    path = write_plot(Report([7], 1, records), tmp_path / "out" / "eval.png")
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000


# -- the Action --------------------------------------------------------------------------------
def intent_for(env: dict[str, str]):
    return decide(parse_event({}), parse_inputs(env), parse_config({"profile": "test"}))


def test_action_command_eval_takes_issues_and_repeat():
    intent = intent_for({"INPUT_COMMAND": "eval", "INPUT_ISSUES": "12, #15\n12", "INPUT_REPEAT": "3"})
    assert (intent.command, intent.issues, intent.repeat, intent.milestone) == ("eval", (12, 15), 3, None)
    assert intent.label() == "eval #12,#15 ×3"
    execute, options = command_call(intent, DispatchContext(max_usd=7.5, base_branch="dev"))
    assert execute is eval_execute
    assert options == EvalOptions(issues=(12, 15), repeat=3, max_usd=7.5, base="dev")


def test_action_eval_of_a_milestone_and_the_single_issue_input():
    intent = intent_for({"INPUT_COMMAND": "eval", "INPUT_MILESTONE": "v0.3"})
    assert intent.milestone == "v0.3" and intent.issues == () and intent.repeat == 1
    assert command_call(intent, DispatchContext())[1] == EvalOptions(milestone="v0.3", repeat=1)
    assert intent_for({"INPUT_COMMAND": "eval", "INPUT_ISSUE": "4"}).issues == (4,)


def test_action_eval_without_a_target_or_with_bad_values_is_a_config_error():
    with pytest.raises(ConfigError, match="issues or a milestone"):
        intent_for({"INPUT_COMMAND": "eval"})
    with pytest.raises(ConfigError, match="issues"):
        parse_inputs({"INPUT_ISSUES": "12,abc"})
    with pytest.raises(ConfigError, match="repeat"):
        parse_inputs({"INPUT_REPEAT": "0"})
