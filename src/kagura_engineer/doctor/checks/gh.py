"""gh: present and authenticated. Optional when a GitHub token is set (the API client uses it)."""

from __future__ import annotations

import re

from kagura_engineer import proc
from kagura_engineer.credentials import github_token_source
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok, warn
from kagura_engineer.doctor.tools import parse_version

GH_ENV = ("GH_TOKEN", "GITHUB_TOKEN", "GH_HOST", "GH_CONFIG_DIR", "GH_ENTERPRISE_TOKEN", "XDG_CONFIG_HOME")
_ACCOUNT = re.compile(r"(?:account|as)\s+([A-Za-z0-9][A-Za-z0-9-]*)")


def check(ctx: DoctorContext) -> Outcome:
    token = github_token_source(ctx.env)
    gh = proc.which("gh")
    if gh is None:
        if token:
            return warn(f"gh not installed; {token} is set, which is all kagura-engineer needs", None)
        return fail("gh not found on PATH and no GITHUB_TOKEN/GH_TOKEN set", "kagura-engineer setup --fix gh, then gh auth login")
    version = parse_version(proc.run([gh, "--version"], timeout=5).stdout) or "unknown version"
    status = proc.run([gh, "auth", "status"], timeout=8, passthrough=GH_ENV)
    if status.ok:
        account = _ACCOUNT.search(status.stdout + "\n" + status.stderr)
        who = f" as {account.group(1)}" if account else ""
        return ok(f"gh {version}, logged in{who}")
    if status.timed_out:
        reason = "`gh auth status` timed out"
    else:
        reason = f"`gh auth status` exited {status.returncode} (not logged in)"
    if token:
        return warn(f"gh {version}: {reason}; {token} is set, which is what kagura-engineer uses", "gh auth login (optional)")
    return fail(f"gh {version}: {reason}", "gh auth login, or export GITHUB_TOKEN=<token>")
