"""isolation: whether claude and the checks run as a user of their own (root) or not (partial)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kagura_engineer import proc
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok, warn


def reachable_by_others(path: str) -> bool:
    """Whether a user other than the owner can execute `path` (o+x on it and every folder above)."""
    real = Path(os.path.realpath(path))
    for part in [real, *real.parents]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def check(ctx: DoctorContext) -> Outcome:
    from kagura_engineer.agent.install import find_claude
    from kagura_engineer.agent.user import NAME, PARTIAL, is_root

    if not is_root():
        return warn(PARTIAL, "run the container action (or as root) for a user of the agent's own")
    if proc.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin") is None:
        return fail("setpriv (util-linux) is missing: the agent's work cannot be collected as its user",
                    "apt-get install util-linux")  # fmt: skip
    try:
        import pwd

        uid = pwd.getpwnam(NAME).pw_uid
        who = f"{NAME} (uid {uid})"
    except KeyError:
        who = f"{NAME} (created at the first run)"
    binary = find_claude(ctx.env)
    if binary and not reachable_by_others(binary):
        return warn(f"claude at {binary} is not executable by {NAME}: a folder above it is private",
                    "install claude where every user can run it (e.g. /usr/local/bin)")  # fmt: skip
    return ok(f"claude and the checks run as {who}, without the harness's secrets")
