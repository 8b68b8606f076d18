"""Record real `claude -p` stream-json output into tests/agent/data/ (run by hand).

    KAGURA_CLAUDE_BIN=.tools/claude/node_modules/.bin/claude python tests/agent/record_streams.py

Each recording is what the driver's own argv (agent.argv.build_argv) makes the pinned
binary print against the scripted Messages API stand-in, in a throwaway git repository.
The parser tests replay these files, so the parser is tested on the real format.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from kagura_engineer.agent.argv import DEFAULT_ALLOWED_TOOLS, Invocation, build_argv
from kagura_engineer.demo.anthropic import AnthropicStandIn, bash, http_error, report, write

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
BINARY = os.environ.get("KAGURA_CLAUDE_BIN") or str(ROOT / ".tools/claude/node_modules/.bin/claude")


def world() -> tuple[Path, dict[str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="record-"))
    repo = tmp / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (tmp / "claude" / "tmp").mkdir(parents=True)
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp), "LANG": "C.UTF-8",
        "CLAUDE_CONFIG_DIR": str(tmp / "claude"), "CLAUDE_CODE_TMPDIR": str(tmp / "claude" / "tmp"),
        "GIT_AUTHOR_NAME": "rec", "GIT_AUTHOR_EMAIL": "rec@example.com",
        "GIT_COMMITTER_NAME": "rec", "GIT_COMMITTER_EMAIL": "rec@example.com",
    }  # fmt: skip
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "init"], cwd=repo, env=env, check=True)
    return repo, env


def record(name: str, steps: list, *, partial: bool = True, max_turns: int = 10, interrupt_after_user: bool = False,
           resume_first: list | None = None) -> None:  # fmt: skip
    repo, env = world()
    with AnthropicStandIn(steps) as model:
        env = {**env, **model.env()}
        resume = None
        if resume_first is not None:
            first = subprocess.run(
                build_argv(Invocation(BINARY, "first", 10, 5.0, allowed=DEFAULT_ALLOWED_TOOLS)),
                cwd=repo, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            resume = json.loads(first.stdout.splitlines()[-1])["session_id"]
        argv = build_argv(Invocation(BINARY, "Do the thing.", max_turns, 5.0, resume=resume, partial_messages=partial))
        child = subprocess.Popen(argv, cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
        out = []
        assert child.stdout is not None
        for line in child.stdout:
            out.append(line)
            if interrupt_after_user and json.loads(line).get("type") == "user":
                os.killpg(child.pid, signal.SIGINT)
                interrupt_after_user = False
        child.wait(timeout=60)
    (DATA / f"{name}.jsonl").write_text("".join(out))
    print(f"{name}: {len(out)} lines, exit {child.returncode}", file=sys.stderr)


def main() -> None:
    DATA.mkdir(exist_ok=True)
    green = [
        write("{CWD}/hello.txt", "hi\n"),
        bash("git add hello.txt && git commit -q -m 'Add hello.txt'"),
        {"text": "Reporting.", **report("done", "Added hello.txt", ["hello.txt"])},
    ]
    record("green", green)
    record("green_no_partial", green, partial=False)
    record("max_turns", [write("{CWD}/a.txt", "a")] + [bash("git status")] * 5, max_turns=1)  # CLI backstop: 2
    record("api_error", [http_error(500, "boom")])
    record("denied", [bash("git push origin main"), report("blocked", "could not push", [], "push was denied")])
    record("interrupted", [write("{CWD}/a.txt", "a"), bash("git status"), report()], interrupt_after_user=True)
    both = [report("done", "first"), bash("git status"), report("done", "second")]
    record("resumed", both, resume_first=both)


if __name__ == "__main__":
    main()
