"""Ctrl-C at any moment of `kagura-engineer demo` leaves nothing behind: no `kagura-demo-*`
folder, no child process. A real demo process gets SIGINT at several points; its claude is a
stand-in that sleeps (the variant with the real claude binary is in tests/e2e)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import kagura_engineer
from kagura_engineer import CLAUDE_CODE_VERSION

SRC = str(Path(kagura_engineer.__file__).resolve().parents[1])

SLEEPING_CLAUDE = """#!{python}
import os, sys, time
if "--version" in sys.argv:
    print("{version} (Claude Code)")
    sys.exit(0)
with open({marker!r}, "a") as fh:
    fh.write(f"{{os.getpid()}}\\n")
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


def _in_sessions(sids: set[int]) -> list[int]:
    """Live processes in these sessions: the demo's own (it was started in a new one) and each
    claude's (the driver starts claude in a session of its own). Only /proc/PID/stat is read
    (the session id), never another process's environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) in sids and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


class Demo:
    """`kagura-engineer demo` as a process, with a sleeping stand-in claude unless `claude` is given."""

    def __init__(self, tmp: Path, claude: str | None = None) -> None:
        from agentspace import AGENT_PYTHON  # the stand-in claude runs as the agent user when root

        self.tmp = tmp
        self.marker = tmp / "claude-pids"
        if claude is None:
            fake = tmp / "claude"
            fake.write_text(
                SLEEPING_CLAUDE.format(
                    python=AGENT_PYTHON, version=CLAUDE_CODE_VERSION, marker=str(self.marker)
                )
            )
            fake.chmod(0o755)
            claude = str(fake)
        home = tmp / "home"  # apart from the stand-in: as root the harness closes its HOME to the agent user
        home.mkdir(exist_ok=True)
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "TMPDIR": str(tmp), "PYTHONPATH": SRC,
               "KAGURA_CLAUDE_BIN": claude, "LANG": "C.UTF-8"}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kagura_engineer", "demo"], env=env, cwd=tmp, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []

    def wait_for_line(self, text: str) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if text in line:
                return
        raise AssertionError(f"the demo ended before printing {text!r}: {''.join(self.lines)}")

    def wait_for_claude(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.marker.exists() and self.marker.read_text().strip():
                return int(self.marker.read_text().split()[0])
            time.sleep(0.05)
        raise AssertionError("the stand-in claude never started")

    def interrupt(self, times: int = 1) -> None:
        for _ in range(times):
            self.proc.send_signal(signal.SIGINT)

    def finish(self) -> str:
        try:
            _, err = self.proc.communicate(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return "".join(self.lines) + err

    def left_behind(self) -> list[str]:
        leftovers = [p.name for p in self.tmp.glob("kagura-demo-*")]
        claudes = list(map(int, self.marker.read_text().split())) if self.marker.exists() else []
        leftovers += [f"pid {pid}" for pid in _in_sessions({self.proc.pid, *claudes})]
        return leftovers


@pytest.fixture
def demo(agent_dir):
    started: list[Demo] = []

    def start() -> Demo:
        started.append(Demo(agent_dir))
        return started[-1]

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


@pytest.mark.parametrize("line", ["demo repository:", "issue #1:", "progress comment"])
def test_ctrl_c_while_the_demo_sets_up_leaves_nothing(demo, line):
    d = demo()
    d.wait_for_line(line)
    d.interrupt()
    err = d.finish()
    assert d.proc.returncode == 130 and err.rstrip().endswith("interrupted"), err
    assert d.left_behind() == []


@pytest.mark.parametrize("times", [1, 2, 5])
def test_ctrl_c_while_claude_runs_stops_it_and_removes_everything(demo, times):
    d = demo()
    claude = d.wait_for_claude()
    assert _alive(claude) and [p.name for p in d.tmp.glob("kagura-demo-*")]
    d.interrupt(times)  # a second (and third...) Ctrl-C lands in the unwinding and the cleanup
    err = d.finish()
    assert d.proc.returncode == 130, err
    assert d.left_behind() == []


def _child(code: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(tmp)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_remove_tree_finishes_even_when_ctrl_c_arrives_midway(tmp_path):
    """The cleanup itself: SIGINT in the middle of the rmtree is held until the tree is gone."""
    result = _child(
        """
        import os, shutil, signal, sys
        from pathlib import Path
        from kagura_engineer.demo.command import remove_tree
        root = Path(sys.argv[1]) / "kagura-demo-x"
        for n in range(200):
            (root / f"d{n}").mkdir(parents=True)
            (root / f"d{n}" / "f").write_text("x")
        real = shutil.rmtree
        def interrupted_rmtree(path, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the removal starts
            return real(path, *args, **kwargs)
        shutil.rmtree = interrupted_rmtree
        try:
            remove_tree(root)
        except KeyboardInterrupt:
            print("interrupted after", "gone" if not root.exists() else "NOT gone")
        """,
        tmp_path,
    )
    assert result.stdout.strip() == "interrupted after gone", result.stderr
    assert not (tmp_path / "kagura-demo-x").exists()


def test_after_the_first_ctrl_c_the_unwinding_cannot_be_interrupted(tmp_path):
    result = _child(
        """
        import os, signal
        from kagura_engineer.demo.command import FirstCtrlC
        steps = []
        try:
            with FirstCtrlC() as ctrl_c:
                try:
                    ctrl_c.arm()
                    os.kill(os.getpid(), signal.SIGINT)
                    for _ in range(10**6):
                        pass
                    steps.append("not interrupted")
                finally:
                    os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C during cleanup
                    for _ in range(10**6):
                        pass
                    steps.append("cleaned up")
        except KeyboardInterrupt:
            steps.append("KeyboardInterrupt")
        print(" / ".join(steps))
        """,
        tmp_path,
    )
    assert result.stdout.strip() == "cleaned up / KeyboardInterrupt", result.stderr
