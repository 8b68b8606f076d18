"""`kagura-engineer demo`: one sample issue driven to a pull request, all on 127.0.0.1.

It makes a throwaway repository with a bare `origin`, starts the GitHub stand-in and the
scripted Messages API behind the real `claude` binary (installed on demand with npm at the
pinned version), uses a local memory store, runs the real `run` phase machine, prints the
progress comment as it evolves, then the PR, and cleans up. `--live` talks to the real
Anthropic API with the credentials in the environment instead of the scripted model (the
repository and GitHub stay local).

Ctrl-C at any moment leaves nothing behind: Ctrl-C interrupts only once the throwaway folder
is known to the cleanup, and only the first one does (`FirstCtrlC`); any later one is held
until the folder is removed (`remove_tree`). The stand-ins are threads of this process, and
every child process (git, claude and its tools) is killed on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ISSUE_TITLE = "Add a hello-world script"
ISSUE_BODY = "Please add `hello.py` that prints `hello, world`. Keep it to one file."
CHECK = "python3 hello.py | grep -q 'hello, world'"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--live",
        action="store_true",
        help="use the real Anthropic API (ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the throwaway repository and print where it is"
    )


def ensure_claude() -> str:
    """The claude binary: KAGURA_CLAUDE_BIN, the cache or PATH, else npm-installed at the pin
    into the cache (where doctor, setup and run find it too)."""
    import sys

    from kagura_engineer import CLAUDE_CODE_VERSION
    from kagura_engineer.agent.install import INSTALL_SIZE, cache_prefix, find_claude, install_claude

    found = find_claude()
    if found:
        return found
    cache = cache_prefix()
    print(
        f"installing @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION} into {cache} ({INSTALL_SIZE}, once)…",
        file=sys.stderr,
    )
    return install_claude(cache)


@contextlib.contextmanager
def sigint_held() -> Iterator[None]:
    """Hold SIGINT for the block: a Ctrl-C meanwhile is delivered when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            signal.raise_signal(signal.SIGINT)


def remove_tree(root: Path, attempts: int = 3) -> bool:
    """Remove `root` entirely, a Ctrl-C meanwhile notwithstanding; True when it is gone."""
    import shutil

    with sigint_held():
        for _ in range(attempts):
            shutil.rmtree(root, ignore_errors=True)
            if not root.exists():
                return True
    return not root.exists()


class FirstCtrlC:
    """Within the block, only the first Ctrl-C interrupts (KeyboardInterrupt), and only while
    armed; later ones — say, a second Ctrl-C during cleanup — are held and delivered when the
    block ends. The handler disarms itself as it raises, so nothing can interrupt the unwinding."""

    def __init__(self) -> None:
        self.armed = False
        self.pending = False
        self._previous: Any = None
        self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt
        self.pending = True

    def __enter__(self) -> FirstCtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        self.armed = False
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
        if self.pending and kind is None:
            raise KeyboardInterrupt

    def arm(self) -> None:
        """Let the next Ctrl-C interrupt (at once, if one came while disarmed)."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
        self.armed = True

    def disarm(self) -> None:
        self.armed = False


def main(args: argparse.Namespace) -> int:
    import os
    import sys
    import tempfile

    from kagura_engineer.errors import NeedsUserError

    if args.live and not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("CLAUDE_CODE_OAUTH_TOKEN")):
        raise NeedsUserError("--live needs ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in the environment")
    binary = ensure_claude()
    saved_env = dict(os.environ)
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    with FirstCtrlC() as ctrl_c:
        root: Path | None = None
        try:
            root = Path(tempfile.mkdtemp(prefix="kagura-demo-"))
            ctrl_c.arm()  # from here on the finally knows what to remove
            return _demo(args, root, binary, say, ctrl_c)
        finally:
            ctrl_c.disarm()
            os.environ.clear()
            os.environ.update(saved_env)
            if root is not None and args.keep:
                print(f"kept: {root}", file=sys.stderr)
            elif root is not None and not remove_tree(root):
                print(f"warning: could not remove {root}", file=sys.stderr)


def _demo(args: argparse.Namespace, root: Path, binary: str, say: Any, ctrl_c: FirstCtrlC) -> int:
    """The demo proper, inside `root` (the caller removes it)."""
    import json
    import os

    from kagura_engineer import proc
    from kagura_engineer.agent import drive_agent
    from kagura_engineer.config import parse_config
    from kagura_engineer.demo.anthropic import AnthropicStandIn, report, write
    from kagura_engineer.demo.github import GitHubStandIn
    from kagura_engineer.git import Git
    from kagura_engineer.github.client import GitHub
    from kagura_engineer.github.progress import ProgressComment
    from kagura_engineer.jobkey import JobKey
    from kagura_engineer.memory.local import LocalMemory
    from kagura_engineer.memory.savepoint import SavepointStore
    from kagura_engineer.run.loop import RunContext, RunOptions, run_issue
    from kagura_engineer.run.report import RunProgress

    origin, work = root / "origin.git", root / "widgets"
    identity = {"GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
                "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.com"}  # fmt: skip
    os.environ.update(identity)
    git = Git(root)
    git.run("init", "-q", "--bare", "-b", "main", str(origin))
    git.run("init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("# widgets\n\nA throwaway repository for the kagura-engineer demo.\n")
    repo = Git(work)
    repo.run("add", "README.md")
    repo.run("commit", "-q", "-m", "initial commit")
    repo.run("remote", "add", "origin", str(origin))
    repo.run("push", "-q", "-u", "origin", "main")

    token = "ghs_demo" + os.urandom(16).hex()
    script = [
        write("{CWD}/hello.py", 'print("hello, world")\n'),
        report("done", "Added hello.py, which prints hello, world", ["hello.py"]),
    ]
    with GitHubStandIn(token=token, repo_path=origin) as github, AnthropicStandIn(script) as model:
        github.add_issue(1, ISSUE_TITLE, ISSUE_BODY)
        claude_home = root / "claude"
        (claude_home / "tmp").mkdir(parents=True)
        os.environ.update(
            {
                "KAGURA_CLAUDE_BIN": binary,
                "CLAUDE_CONFIG_DIR": str(claude_home),
                "CLAUDE_CODE_TMPDIR": str(claude_home / "tmp"),
            }
        )
        if args.live:
            for name in ("ANTHROPIC_BASE_URL",):
                os.environ.pop(name, None)
        else:
            os.environ.update(model.env())
        say(f"demo repository: {work} (origin {origin})")
        say(
            f"GitHub stand-in: {github.url}   model: {'the real Anthropic API' if args.live else model.url + ' (scripted)'}"
        )
        say(f"issue #1: {ISSUE_TITLE}\n")

        gh = GitHub.from_env(github.env(), timeout=10)
        memory = LocalMemory(root / "memory.db")
        memory.remember(
            "Scripts in this repository are run with python3 and must print exactly what the issue asks",
            "A past review asked for exact output matching; checks grep the output.", "lesson", tags=["demo"],
        )  # fmt: skip
        config = parse_config(
            {
                "profile": "demo",
                "memory_backend": "local",
                "local_memory_path": str(root / "memory.db"),
                "checks": [CHECK],
            }
        )
        key = str(JobKey.run("acme", "widgets", 1))
        shown: list[str] = []

        def on_phase(name: str, state: str) -> None:
            comments = github.issue_comments(1)
            body = comments[0]["body"] if comments else ""
            if body and body != (shown[-1] if shown else None):
                shown.append(body)
                say(f"── progress comment ──\n{_visible(body)}\n")

        ctx = RunContext(
            config=config, options=RunOptions(issue=1, run_id="demo"), gh=gh, memory=memory,
            store=SavepointStore(memory), repo=repo, agent=drive_agent, on_phase=on_phase,
            progress=RunProgress(ProgressComment(gh, 1, key, min_interval=0.0), None, None),
        )  # fmt: skip
        outcome = run_issue(ctx)
        memory.close()
        final = github.issue_comments(1)
        if final and (not shown or final[0]["body"] != shown[-1]):
            say(f"── progress comment (final) ──\n{_visible(final[0]['body'])}\n")
        if args.json:
            print(json.dumps(outcome.to_json()))
        else:
            pr = gh.get_pull(outcome.pr_number) if outcome.pr_number else None
            if pr:
                say(
                    f"PR #{pr['number']}: {pr['title']}  ({'draft' if pr.get('draft') else 'ready'}, verdict {outcome.verdict})"
                )
                say(f"  {pr['head']['ref']} → {pr['base']['ref']}, cost ${outcome.cost_usd:.3f}\n")
                say(pr.get("body") or "")
                files = proc.run(
                    ["git", "show", "--stat", "--format=", f"{pr['head']['ref']}"], cwd=origin
                ).stdout
                say(f"\nfiles on the branch:\n{files}")
            else:
                say(f"{outcome.status}: {outcome.reason}")
        ctrl_c.disarm()  # finished: a Ctrl-C now waits for the cleanup
        return outcome.exit_code


def _visible(body: str) -> str:
    """The comment as a reader sees it: without the hidden marker line."""
    return "\n".join(line for line in body.splitlines() if not line.startswith("<!--")).strip()
