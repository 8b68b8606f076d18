"""ollama-models: `ollama pull` every `review.models` entry the daemon lacks (tag-aware match)."""

from __future__ import annotations

from kagura_engineer import proc
from kagura_engineer.doctor.ollama_api import OllamaUnavailable, list_models, missing_models
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.effects import Command
from kagura_engineer.setup.model import Plan, StepStatus, Verdict, failed, ok
from kagura_engineer.setup.steps.ollama import START


def _installed(ctx: SetupContext) -> list[str] | str:
    with ctx.http() as http:
        try:
            return list_models(http, ctx.config.ollama_url)
        except OllamaUnavailable as exc:
            return exc.message


def plan(ctx: SetupContext) -> Plan:
    wanted = list(ctx.config.review.models)
    if not wanted:
        return Plan.done(StepStatus.SKIPPED, "no review.models configured")
    installed = _installed(ctx)
    if isinstance(installed, str):
        return Plan.done(StepStatus.NEEDS_USER, f"cannot list models: {installed}", START)
    missing = missing_models(wanted, installed)
    if not missing:
        return Plan.done(StepStatus.OK, f"daemon has {', '.join(wanted)}")
    if proc.which("ollama") is None:
        pulls = " && ".join(f"ollama pull {m}" for m in missing)
        return Plan.done(StepStatus.NEEDS_USER, f"daemon lacks {', '.join(missing)} and no ollama binary is here",
                         f"on the daemon's host: {pulls}")  # fmt: skip
    # OLLAMA_HOST makes the CLI pull into the daemon repo.yaml names, not a default one.
    env = {"OLLAMA_HOST": ctx.config.ollama_url}
    commands = [Command.of("ollama", "pull", m, env=env, timeout=3600.0) for m in missing]
    return Plan.act(f"pull {', '.join(missing)}", commands, verify)


def verify(ctx: SetupContext) -> Verdict:
    wanted = list(ctx.config.review.models)
    installed = _installed(ctx)
    if isinstance(installed, str):
        return failed(f"pulled, but cannot list models any more: {installed}", START)
    missing = missing_models(wanted, installed)
    if missing:
        return failed(f"ollama pull finished, but the daemon at {ctx.config.ollama_url} still lacks {', '.join(missing)}",
                      "check that OLLAMA_HOST and ollama_url point at the same daemon")  # fmt: skip
    return ok(f"pulled; daemon has {', '.join(wanted)}")
