"""Wiring for an evaluation: the workspace, read-only GitHub, the team's memory, eval's own store.

Eval's store is a local SQLite file of its own, `.kagura/eval/eval.db` in the checkout
(run savepoints, the evaluation's savepoint and its lease), and its throwaway repositories
go under `.kagura/eval/work/`; the team's store is opened only when it exists (opening a
missing local store would create one) and is only recalled from.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kagura_engineer.eval.drive import EvalContext

if TYPE_CHECKING:
    from kagura_engineer.config import Config

EVAL_DIR = Path(".kagura") / "eval"


def _say(line: str) -> None:
    from kagura_engineer.workflow import write_untrusted

    write_untrusted(line, sys.stderr)  # lines may carry issue text


def open_team_memory(config: Any) -> tuple[Any | None, list[str]]:
    """The team's store (None when a local one does not exist yet) and the paths to protect."""
    from kagura_engineer.memory.factory import open_memory

    if config.memory_backend == "local":
        from kagura_engineer.memory.local import local_path

        path = local_path(config)
        if not path.exists():
            _say(f"warning: no team memory at {path}: recall on has nothing to recall")
            return None, []
        return open_memory(config), [str(path.parent)]
    return open_memory(config), []


@contextmanager
def open_eval(config: Config, *, live: bool) -> Iterator[EvalContext]:
    """Build the context from the config and the environment; closes both stores on the way out."""
    from kagura_engineer.agent import drive_agent, launch_agent
    from kagura_engineer.eval.guard import ReadOnlyGitHub
    from kagura_engineer.memory.local import LocalMemory
    from kagura_engineer.memory.savepoint import SavepointStore
    from kagura_engineer.scratch import exclude_scratch
    from kagura_engineer.workspace import open_workspace

    with open_workspace(config, live=live, memory=False) as ws:
        checkout = ws.checkout
        gh = ReadOnlyGitHub(ws.gh)
        workdir = checkout.cwd / EVAL_DIR
        workdir.mkdir(parents=True, exist_ok=True)
        exclude_scratch(workdir)
        team, protect = open_team_memory(config)
        own = LocalMemory(workdir / "eval.db", semantic=False)
        try:
            yield EvalContext(
                config=config, gh=gh, team_memory=team, store=SavepointStore(own), checkout=checkout,
                workdir=workdir / "work", agent=drive_agent, launch=launch_agent, run_id=ws.run_id, say=ws.say,
                protect=protect + [str(workdir)],
            )  # fmt: skip
        finally:
            own.close()
            if team is not None:
                team.close()
