"""memory-cloud: a Memory Cloud credential must exist (skipped for the local backend).

Logging in is a browser device flow only a person can finish, and a key is a secret only a
person can paste, so this step never acts: it is OK or NEEDS_USER with the exact command.
"""

from __future__ import annotations

from kagura_engineer.config import Config
from kagura_engineer.credentials import kagura_source
from kagura_engineer.doctor.checks.memory import cloud_root
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.model import Plan, StepStatus

DEFAULT_ROOT = cloud_root(Config.model_fields["memory_cloud_url"].default)


def login_command(ctx: SetupContext) -> str:
    root = cloud_root(ctx.config.memory_cloud_url)
    return "kagura auth login" + ("" if root == DEFAULT_ROOT else f" --server {root}")


def plan(ctx: SetupContext) -> Plan:
    if ctx.config.memory_backend != "cloud":
        return Plan.done(StepStatus.SKIPPED, "memory_backend is local")
    auth = kagura_source(ctx.env, ctx.cwd)
    if auth.source:
        return Plan.done(StepStatus.OK, f"Memory Cloud credential: {auth.source}")
    why = auth.problem or "no Memory Cloud credential (KAGURA_API_KEY unset, no ~/.kagura/credentials.json profile)"
    return Plan.done(
        StepStatus.NEEDS_USER,
        why,
        f"run `{login_command(ctx)}` (device-flow login in a browser), or export KAGURA_API_KEY=<an API key from "
        "the Memory Cloud web UI>",
    )
