"""The README's first command: `kagura-engineer demo` drives a sample issue to a PR offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import claude_binary

pytestmark = pytest.mark.e2e


def test_demo_ships_the_sample_issue_and_cleans_up(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KAGURA_CLAUDE_BIN": claude_binary(), "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "kagura_engineer", "demo", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "shipped" and result["verdict"] == "green" and result["pr_number"]
    assert not list(tmp_path.glob("kagura-demo-*"))  # cleaned up


def test_demo_prints_the_progress_comment_and_the_pr(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KAGURA_CLAUDE_BIN": claude_binary(), "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "kagura_engineer", "demo"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "progress comment" in out.stderr and "✅ shipped" in out.stderr
    assert "Closes #1" in out.stderr and "hello.py" in out.stderr
