"""reviewer: the optional `kagura-code-reviewer` console script (local model review)."""

from __future__ import annotations

from kagura_engineer import proc
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, ok, warn
from kagura_engineer.doctor.tools import version_of

INSTALL = "pip install 'kagura-engineer[review]'"


def check(ctx: DoctorContext) -> Outcome:
    path = proc.which("kagura-code-reviewer")
    if path is None:
        return warn("kagura-code-reviewer not on PATH (review falls back to Claude as reviewer)", INSTALL)
    version, result = version_of(path)
    if version is None:
        return warn(f"{path} found, but `--version` failed (exit {result.returncode})", INSTALL)
    return ok(f"kagura-code-reviewer {version} at {path}")
