"""Typed savepoint payloads read and write the JSON earlier versions wrote, both ways.

The fixtures under data/savepoints/ are savepoints exactly as the untyped code (a free
`data` dict) stored them at the end of real test runs: a red run, a shipped run, a review
with one fix loop, a halted goal, a finished evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kagura_engineer.eval.state import EvalState
from kagura_engineer.goal.state import GoalState
from kagura_engineer.memory.savepoint import (
    AgentRecord,
    Savepoint,
    SavepointData,
    SavepointError,
    SavepointStore,
    parse_savepoint,
)
from kagura_engineer.review.state import FixRecord, ReviewState
from kagura_engineer.run.state import CheckRecord, RunState

DATA = Path(__file__).parent / "data" / "savepoints"
FIXTURES = {
    "v1-run-halted": RunState, "v1-run-shipped": RunState, "v1-review-fixed": ReviewState,
    "v1-goal-halted": GoalState, "v1-eval-finished": EvalState,
}  # fmt: skip


def _old(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_an_old_savepoint_is_written_back_exactly_as_it_was_read(name):
    raw = _old(name)
    sp = parse_savepoint(raw["key"], raw, Savepoint[FIXTURES[name]])
    assert isinstance(sp.data, FIXTURES[name])
    assert sp.model_dump(mode="json") == raw


def test_an_old_run_savepoint_reads_as_typed_attributes():
    raw = _old("v1-run-halted")
    state = parse_savepoint(raw["key"], raw, Savepoint[RunState]).data
    assert state.done["gate"] is True and state.base == "main" and state.grounding == []
    assert state.agent.status == "done" and state.agent.files_changed == ["hello.txt"]
    assert [(c.command, c.ok) for c in state.failing_checks] == [(raw["data"]["checks"][0]["command"], False)]
    assert state.setup is not None and state.setup.detail == "nothing to set up"
    assert state.attempt_base == 0 and state.pr_url is None and state.resuming_halt is False


def test_an_old_review_savepoint_reads_the_fix_loop_under_its_keyword_name():
    raw = _old("v1-review-fixed")
    state = parse_savepoint(raw["key"], raw, Savepoint[ReviewState]).data
    fix = state.fix
    assert fix is not None and fix.from_ == raw["data"]["fix"]["from"] and fix.state == "pushed"
    assert fix.agent is not None and fix.agent.summary == "fixed the finding"
    assert state.chain is not None and state.chain.loops == 1
    head = raw["data"]["fix"]["to"]
    assert state.verdicts[head].verdict == "green" and state.verdicts[head].posted == 1010


def test_fields_this_version_does_not_know_are_kept_and_written_back():
    raw = _old("v1-run-halted")
    raw["data"]["from_a_later_version"] = {"kept": [1, 2]}
    raw["data"]["agent"]["mood"] = "curious"
    raw["data"]["checks"][0]["exit_code"] = 1
    sp = parse_savepoint(raw["key"], raw, Savepoint[RunState])
    sp.data.turns += 1
    out = sp.model_dump(mode="json")["data"]
    assert out["from_a_later_version"] == {"kept": [1, 2]} and out["agent"]["mood"] == "curious"
    assert out["checks"][0]["exit_code"] == 1 and out["turns"] == raw["data"]["turns"] + 1


def test_a_field_missing_from_an_older_savepoint_takes_its_default():
    sp = parse_savepoint("run/acme/widgets/issue-7", {"version": 1, "key": "run/acme/widgets/issue-7"},
                         Savepoint[RunState])  # fmt: skip
    state = sp.data
    assert (state.done, state.grounding, state.checks, state.memories, state.turns) == ({}, None, [], {}, 0)
    assert state.agent == AgentRecord() and state.agent.status is None


def test_only_what_was_set_is_written_so_an_older_reader_sees_its_own_defaults():
    state = RunState()
    # e.g. no "grounding": an older run reads a missing one as "not grounded yet"
    assert state.model_dump(mode="json") == {}
    state.memories["outcome"] = "m-1"  # a default container changed in place is written
    state.attempt_base = 0  # a field set, even to its default, is written
    state.checks = [CheckRecord(command="make test", ok=True)]
    assert state.model_dump(mode="json") == {
        "memories": {"outcome": "m-1"}, "attempt_base": 0, "checks": [{"command": "make test", "ok": True}],
    }  # fmt: skip


def test_the_fix_loops_from_field_is_stored_under_its_json_name():
    fix = FixRecord(loop=1, from_="a" * 40, state="fixing", session=None)
    assert fix.model_dump(mode="json") == {"loop": 1, "from": "a" * 40, "state": "fixing", "session": None}


def test_a_payload_of_the_wrong_type_makes_the_savepoint_unusable_not_a_crash(store):
    key = "run/acme/widgets/issue-7"
    store.set_state("savepoint:" + key, {"version": 1, "key": key, "data": {"checks": "all green"}})
    savepoints = SavepointStore(store)
    with pytest.raises(SavepointError, match=r"data\.checks"):
        savepoints.load(key, RunState)
    assert isinstance(savepoints.load(key).data, SavepointData)  # the store's own reading keeps it as it is


def test_save_reads_the_stored_savepoint_back_as_the_callers_type(store):
    goal = Savepoint[GoalState](key="goal/acme/widgets/v1.0", data={"current": 3})
    stored = SavepointStore(store).save(goal)
    assert isinstance(stored.data, GoalState) and stored.data.current == 3


def test_ctrl_c_while_a_savepoint_is_written_stays_an_interrupt(monkeypatch):
    """The default-pruning runs after pydantic's dump: pydantic would turn a KeyboardInterrupt
    raised inside one of its serializers into a PydanticSerializationError (exit 3, not 130)."""
    from kagura_engineer.memory import savepoint

    sp = Savepoint[RunState](key="run/acme/widgets/issue-7", data=RunState())

    def interrupted(value, dumped):
        raise KeyboardInterrupt

    monkeypatch.setattr(savepoint, "_prune", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sp.model_dump(mode="json")
    with pytest.raises(KeyboardInterrupt):
        sp.data.model_dump(mode="json")
