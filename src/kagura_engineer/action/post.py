"""The post step (`post-entrypoint`, `post-if: always()`): honest endings for killed jobs.

It runs in a new container after the main step, whatever happened to it. The main step
leaves notes through `GITHUB_STATE`, which arrive here as `STATE_*`:

- `kagura_started` (epoch seconds): written first thing;
- `kagura_progress_number` / `_key` / `_title`, `kagura_run_url`, `kagura_command`: written
  once the progress comment exists;
- `kagura_cache_restored`, `kagura_cache_saved`: the memory cache round trip;
- `kagura_done`: written last, after outputs and summary.

Without `kagura_done` the main step was cancelled, timed out or killed: the progress
comment is finished as such, with how to resume (the savepoint keeps finished phases).
A restored memory cache that the main step did not save is saved here. The post step never
fails the job: problems are warnings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from kagura_engineer.action.inputs import Inputs
    from kagura_engineer.workflow import ActionIO


def state_of(environ: Mapping[str, str]) -> dict[str, str]:
    """`STATE_<name>` variables as {name: value}."""
    return {k[len("STATE_") :]: v for k, v in environ.items() if k.startswith("STATE_")}


def interruption_reason(state: Mapping[str, str], timeout_minutes: float | None, now: float) -> str:
    """Why the main step did not finish, as well as we can tell from here."""
    try:
        elapsed = max(0.0, now - float(state.get("kagura_started", "")))
    except ValueError:
        elapsed = None
    if elapsed is None:
        return "the job stopped before kagura-engineer finished (cancelled, timed out or killed)"
    minutes = elapsed / 60
    if timeout_minutes and minutes >= timeout_minutes:
        return f"the job timed out after {minutes:.0f} min (timeout_minutes {timeout_minutes:g}) before kagura-engineer finished"
    return f"the job was cancelled or stopped after {minutes:.0f} min, before kagura-engineer finished"


def run_post(environ: MutableMapping[str, str] | None = None, out: TextIO | None = None) -> int:
    """Finish what an interrupted main step left open; always returns 0."""
    from kagura_engineer.action.inputs import parse_inputs, secret_values
    from kagura_engineer.errors import KaguraError
    from kagura_engineer.workflow import ActionIO

    environ = os.environ if environ is None else environ
    aio = ActionIO(environ, out)
    for value in secret_values(environ):
        aio.mask(value)
    state = state_of(environ)
    try:
        inputs = parse_inputs(environ)
    except KaguraError as exc:
        aio.warning(f"post step: {exc.message}", title="kagura-engineer")
        return 0
    for name, value in inputs.secrets().items():
        environ[name] = value
    if state.get("kagura_done") == "1":
        aio.log("post: the main step finished; nothing to report")
    elif state.get("kagura_progress_number") and state.get("kagura_progress_key"):
        try:
            _finish_comment(environ, aio, state, inputs.github_token or None, inputs.timeout_minutes)
        except KaguraError as exc:
            aio.warning(
                f"post step: could not finish the progress comment: {exc.message}", title="kagura-engineer"
            )
    else:
        aio.log("post: no progress comment to finish")
    if state.get("kagura_cache_restored") == "1" and state.get("kagura_cache_saved") != "1":
        _save_cache(environ, aio, inputs)
    from kagura_engineer.action.ownership import restore_ownership

    restore_ownership(environ.get("GITHUB_WORKSPACE"))
    return 0


def _finish_comment(environ: MutableMapping[str, str], aio: ActionIO, state: Mapping[str, str],
                    token: str | None, timeout_minutes: float | None) -> None:  # fmt: skip
    from kagura_engineer.action.intent import Intent, resume_hint
    from kagura_engineer.github.client import GitHub
    from kagura_engineer.github.progress import ProgressComment, ProgressState, render_summary

    number = int(state["kagura_progress_number"])
    key = state["kagura_progress_key"]
    command = state.get("kagura_command") or "run"
    reason = interruption_reason(state, timeout_minutes, time.time())
    gh = GitHub.from_env(environ, token=token)
    final = ProgressState(
        key=key,
        title=state.get("kagura_progress_title") or key,
        status="failed",
        run_url=state.get("kagura_run_url") or None,
        reason=reason,
        resume=resume_hint(Intent(command, "post")),
    )
    final.set_phase(command, "failed", "interrupted")
    ProgressComment(gh, number, key).finish(final)
    aio.warning(reason, title="kagura-engineer")
    aio.write_summary(render_summary(final))


def _save_cache(environ: MutableMapping[str, str], aio: ActionIO, inputs: Inputs) -> None:
    from kagura_engineer.action.settings import effective_config
    from kagura_engineer.errors import KaguraError

    try:
        config = effective_config(inputs, environ, None)
        from kagura_engineer.cache.carry import save_memory
    except KaguraError as exc:
        aio.warning(f"post step: {exc.message}", title="memory cache")
        return
    try:
        result = save_memory(config, environ)
    except KaguraError as exc:
        aio.warning(f"memory cache save failed: {exc.message}", title="memory cache")
        return
    if getattr(result, "warning", None):
        aio.warning(str(result.warning), title="memory cache")
