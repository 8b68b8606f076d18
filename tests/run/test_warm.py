"""A run starts loading the memory encoder before the agent works, when it will remember."""

from __future__ import annotations

from dataclasses import replace

from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.run.loop import run_issue

from .conftest import ScriptedAgent, writes


class WarmLog(LocalMemory):
    """The real store, noting when the run asked it to warm up (and what the agent had done)."""

    def __init__(self, path, agent: ScriptedAgent) -> None:
        super().__init__(path, semantic=False)  # the encoder itself is tests/memory's business
        self.agent = agent
        self.warmed: list[int] = []  # agent calls made before each warm()

    def warm(self) -> None:
        self.warmed.append(len(self.agent.calls))


def _context(world, agent: ScriptedAgent, remember: bool):
    ctx = world.context(agent, checks=["test -f hello.txt"])
    ctx.memory.close()
    memory = WarmLog(world.db, agent)
    ctx.memory, ctx.store.memory = memory, memory
    ctx.options = replace(ctx.options, remember=remember)
    return ctx, memory


def test_a_run_that_remembers_warms_the_encoder_once_before_the_agent(world):
    agent = ScriptedAgent([writes("hello.txt", "hi\n")])
    ctx, memory = _context(world, agent, remember=True)
    assert run_issue(ctx).status == "shipped"
    assert memory.warmed == [0]


def test_a_run_that_does_not_remember_loads_nothing_for_it(world):
    agent = ScriptedAgent([writes("hello.txt", "hi\n")])
    ctx, memory = _context(world, agent, remember=False)
    assert run_issue(ctx).status == "shipped"
    assert memory.warmed == []
