"""isolation: whether claude and the checks run as a user of their own (root) or not (partial)."""

from __future__ import annotations

from kagura_engineer import proc
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok, warn


def check(ctx: DoctorContext) -> Outcome:
    from kagura_engineer.agent.install import find_claude
    from kagura_engineer.agent.user import NAME, PARTIAL, is_root, reachable_by_others

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
    note = ""
    if binary and not reachable_by_others(binary):
        note = f"; claude sits in a private folder, so {NAME} runs a link to it in $KAGURA_AGENT_ROOT/bin"
    return ok(f"claude and the checks run as {who}, without the harness's secrets{note}")
