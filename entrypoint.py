#!/usr/bin/env python3
"""Container entry point: `exec kagura-engineer action` (main step) or `... action --post`.

The main step runs this through the image's ENTRYPOINT. The post step (action.yml
`post-entrypoint: /post-entrypoint.py`, a symlink to this file in the image) is recognised
by that name, because docker's `--entrypoint` takes no arguments of its own; `entrypoint.py
post` does the same by hand. Everything else lives in `kagura_engineer.action`.
"""

from __future__ import annotations

import os
import sys


def is_post(argv: list[str]) -> bool:
    return argv[1:2] == ["post"] or os.path.basename(argv[0]).startswith("post")


def main(argv: list[str]) -> int:
    command = ["kagura-engineer", "action"] + (["--post"] if is_post(argv) else [])
    try:
        os.execvp(command[0], command)  # the exit code is kagura-engineer's own
    except OSError as exc:
        print(f"::error title=kagura-engineer::cannot start kagura-engineer: {exc.strerror}", flush=True)
        return 0 if is_post(argv) else 127
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
