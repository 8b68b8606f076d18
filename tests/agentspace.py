"""Where tests put what the agent user must reach: when tests run as root (CI, the container),
claude, fake claudes and the checks run as `kagura-agent`, which cannot enter pytest's 0700
tmp folders or execute a Python that lives under /root."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

#: This session's agent spaces (KAGURA_AGENT_ROOT for every test): removed at session end.
AGENT_ROOT = Path(tempfile.gettempdir()) / f"kagura-agent-tests-{os.getpid()}"
#: A Python the agent user can execute, for fake executables it runs.
AGENT_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
