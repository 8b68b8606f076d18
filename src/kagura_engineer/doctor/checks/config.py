"""config: repo.yaml loads and is consistent (else the exact error, and the others use defaults)."""

from __future__ import annotations

from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok


def check(ctx: DoctorContext) -> Outcome:
    if ctx.config_error is not None:
        hint = ctx.config_error.hint or "fix the file; the other checks ran with the embedded defaults"
        return fail(ctx.config_error.message.strip().splitlines()[0], hint)
    cfg = ctx.config
    return ok(f"{cfg.source}: profile {cfg.profile!r}, memory {cfg.memory_backend}")
