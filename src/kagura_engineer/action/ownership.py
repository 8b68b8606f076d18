"""Give the workspace back to its owner after the container wrote into it as root.

A container action runs as root while the runner's checkout belongs to another user (uid
1001 on hosted runners). Whatever the action created — `.kagura/`, the memory DB, git
objects and refs, worktrees — would be root-owned, and later host steps of the job would hit
permission errors. So, in the `finally` of the main step and in the post step, every path
under the workspace not already owned by the workspace's owner is chowned back.
"""

from __future__ import annotations

import os
from pathlib import Path


def restore_ownership(workspace: str | os.PathLike[str] | None) -> int:
    """Chown back what is not owned by the workspace's owner; returns how many paths changed.

    Does nothing unless running as root and the workspace belongs to someone else.
    """
    if not workspace or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return 0
    root = Path(workspace)
    try:
        owner = root.stat()
    except OSError:
        return 0
    uid, gid = owner.st_uid, owner.st_gid
    if uid == 0:
        return 0
    changed = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if st.st_uid != uid or st.st_gid != gid:
                    os.lchown(path, uid, gid)
                    changed += 1
            except OSError:
                continue
    return changed
