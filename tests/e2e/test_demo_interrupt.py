"""Ctrl-C during `kagura-engineer demo` with the real claude binary: nothing is left behind."""

from __future__ import annotations

import pytest

from core.test_demo_interrupt import Demo

from .conftest import claude_binary

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("times", [1, 2])
@pytest.mark.parametrize("line", ["**branch** (running)", "**implement** (running)", "**push** (running)"])
def test_ctrl_c_at_any_phase_leaves_nothing_behind(tmp_path, line, times):
    demo = Demo(tmp_path, claude_binary())
    try:
        demo.wait_for_line(line)
        demo.interrupt(times)
        err = demo.finish()
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
    assert demo.proc.returncode in (0, 130), err  # 0: the demo had just finished
    assert demo.left_behind() == []
