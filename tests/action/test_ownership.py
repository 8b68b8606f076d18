"""Files the container created as root go back to the workspace's owner."""

from __future__ import annotations

import os

import pytest

from kagura_engineer.action.ownership import restore_ownership

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as the container runs")


def test_root_owned_paths_are_given_back(tmp_path):
    ws = tmp_path / "ws"
    (ws / ".kagura" / "worktrees").mkdir(parents=True)
    (ws / ".kagura" / "memory.db").write_text("x")
    (ws / "mine.txt").write_text("y")
    os.chown(ws, 1001, 1002)
    os.chown(ws / "mine.txt", 1001, 1002)
    changed = restore_ownership(ws)
    assert changed == 3
    for path in (ws / ".kagura", ws / ".kagura" / "worktrees", ws / ".kagura" / "memory.db", ws / "mine.txt"):
        assert (path.stat().st_uid, path.stat().st_gid) == (1001, 1002)
    assert restore_ownership(ws) == 0  # idempotent


def test_a_root_owned_workspace_is_left_alone(tmp_path):
    (tmp_path / "f").write_text("x")
    assert restore_ownership(tmp_path) == 0 and restore_ownership(None) == 0
