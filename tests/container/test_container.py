"""The image, run the way the runner runs a container action.

Builds the real Dockerfile (FROM a debian:bookworm-slim made locally with debootstrap, see
build_base.sh), then runs it with the runner's layout: the workspace at /github/workspace
owned by another uid, HOME=/github/home, the event at /github/workflow/event.json, file
commands under /github/file_commands/, INPUT_* variables, host networking to reach the
loopback stand-ins. Run by .ci/run after the other stages: `pytest -m container tests/container`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from filecommands import parse_file_commands
from kagura_engineer.demo.anthropic import AnthropicStandIn, report, tool_results, write
from kagura_engineer.demo.github import GitHubStandIn
from support.actions_cache import ActionsCacheStandIn

pytestmark = pytest.mark.container
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "kagura-engineer:ci"
TOKEN = "ghs_containerSecretToken0000000000000000"
ANTHROPIC_KEY = "sk-ant-api03-containerKey-0000000000000000"
OWNER_UID = 1001


def sh(*args: str, timeout: float = 1800, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def image() -> str:
    if not shutil.which("docker"):
        if os.environ.get("CI"):
            pytest.fail("docker is not installed (apt-get install docker.io)")
        pytest.skip("docker is not installed")
    for script in ("start_dockerd.sh", "build_base.sh"):
        out = sh("bash", str(ROOT / "tests/container" / script))
        assert out.returncode == 0, out.stdout + out.stderr
    start = time.monotonic()
    out = sh("docker", "build", "--network", "host", "-t", IMAGE, str(ROOT))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    print(f"image built in {time.monotonic() - start:.0f}s")
    return IMAGE


def runner_layout(tmp: Path, workspace: Path, event: dict) -> dict[str, Path]:
    dirs = {name: tmp / name for name in ("home", "workflow", "file_commands")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    (dirs["workflow"] / "event.json").write_text(json.dumps(event))
    for name in ("set_output_1", "step_summary_1", "save_state_1"):
        (dirs["file_commands"] / name).write_text("")
    subprocess.run(["chown", "-R", f"{OWNER_UID}:{OWNER_UID}", str(workspace)], check=True)
    return dirs


def docker_run(image: str, workspace: Path, dirs: dict[str, Path], env: dict[str, str], mounts=()) -> subprocess.CompletedProcess:
    base_env = {
        "HOME": "/github/home", "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_ACTIONS": "true", "CI": "true",
        "GITHUB_EVENT_PATH": "/github/workflow/event.json",
        "GITHUB_OUTPUT": "/github/file_commands/set_output_1",
        "GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary_1",
        "GITHUB_STATE": "/github/file_commands/save_state_1",
        "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1", "RUNNER_TEMP": "/github/runner_temp",
    }  # fmt: skip
    argv = ["docker", "run", "--rm", "--network", "host", "--workdir", "/github/workspace",
            "-v", f"{workspace}:/github/workspace", "-v", f"{dirs['home']}:/github/home",
            "-v", f"{dirs['workflow']}:/github/workflow", "-v", f"{dirs['file_commands']}:/github/file_commands"]  # fmt: skip
    for host in mounts:
        argv += ["-v", f"{host}:{host}"]
    full = {**base_env, **env}
    for name in full:
        argv += ["-e", name]  # values come from the environment, never the command line
    out = sh(*argv, image, timeout=300, env={**os.environ, **full})
    return out


def outputs(dirs: dict[str, Path]) -> dict[str, str]:
    return parse_file_commands((dirs["file_commands"] / "set_output_1").read_text())


def not_owned(workspace: Path) -> list[str]:
    bad = []
    for dirpath, dirnames, filenames in os.walk(workspace):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            if os.lstat(path).st_uid != OWNER_UID:
                bad.append(path)
    return bad


def test_doctor_in_the_container(image, git_repo, tmp_path):
    with GitHubStandIn(token=TOKEN) as github:
        dirs = runner_layout(tmp_path, git_repo, {"inputs": {}})
        env = {**github.env(), "GITHUB_EVENT_NAME": "workflow_dispatch", "INPUT_COMMAND": "doctor",
               "INPUT_GITHUB_TOKEN": TOKEN, "INPUT_ANTHROPIC_API_KEY": ANTHROPIC_KEY}  # fmt: skip
        env.pop("GITHUB_TOKEN")
        out = docker_run(image, git_repo, dirs, env)
    log = out.stdout + out.stderr
    result = outputs(dirs)
    assert result.get("intent") == "doctor", log[-3000:]
    assert out.returncode in (0, 1) and result["status"] in ("shipped", "failed"), log[-3000:]
    summary = (dirs["file_commands"] / "step_summary_1").read_text()
    assert "doctor" in summary
    assert '"claude-code"' in log and "claude 2.1.331 at /usr/local/bin/claude" in log  # the pinned binary
    assert "git 2." in log and "work tree /github/workspace" in log
    assert "semantic recall on" in log  # numpy, tokenizers and the model are in the image
    assert "/github/workspace" in (dirs["home"] / ".gitconfig").read_text()  # safe.directory
    assert "dubious ownership" not in log
    assert TOKEN not in log.replace(f"::add-mask::{TOKEN}", "") and ANTHROPIC_KEY not in summary
    assert not_owned(git_repo) == []


def labeled(number: int, title: str) -> dict:
    return {"action": "labeled", "label": {"name": "kagura"}, "sender": {"login": "octocat", "type": "User"},
            "repository": {"full_name": "acme/widgets", "name": "widgets", "owner": {"login": "acme"}},
            "issue": {"number": number, "title": title, "body": f"Please add {title.split()[-1]}.",
                      "user": {"login": "octocat", "type": "User"}, "labels": [{"name": "kagura"}], "state": "open"}}  # fmt: skip


def fresh_checkout(origin: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True)
    return dest


def test_two_jobs_a_pr_each_and_memory_carried_through_the_cache(image, git_repo, tmp_path):
    origin = tmp_path / "origin.git"
    (git_repo / "repo.yaml").write_text(json.dumps({"profile": "ci", "memory_backend": "local", "checks": ["test -s hello.txt"]}))
    subprocess.run(["git", "add", "repo.yaml"], cwd=git_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "config"], cwd=git_repo, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=git_repo, check=True)
    script = [write("{CWD}/hello.txt", "hi\n"), report("done", "Added hello.txt", ["hello.txt"])]
    runtime_token = "actions-runtime-token-0123456789"
    with GitHubStandIn(token=TOKEN, repo_path=origin) as github, AnthropicStandIn(script) as model, \
            ActionsCacheStandIn(token=runtime_token) as cache:  # fmt: skip
        github.add_issue(7, "Add a greeting file", "Please add hello.txt.")
        github.add_issue(8, "Add another greeting file", "Please add hello.txt too.")
        github.set_permission("octocat", "write")
        logs = []
        for job, (number, title) in enumerate([(7, "Add a greeting file"), (8, "Add another greeting file")], start=1):
            workspace = git_repo if job == 1 else fresh_checkout(origin, tmp_path / "job2")
            dirs = runner_layout(tmp_path / f"job{job}", workspace, labeled(number, title))
            env = {**github.env(), **model.env(), "GITHUB_EVENT_NAME": "issues", "INPUT_COMMAND": "auto",
                   "INPUT_GITHUB_TOKEN": TOKEN, "INPUT_ANTHROPIC_API_KEY": ANTHROPIC_KEY, "INPUT_CACHE": "true",
                   "ACTIONS_RESULTS_URL": cache.url + "/", "ACTIONS_RUNTIME_TOKEN": runtime_token,
                   "GITHUB_RUN_ID": str(4240 + job), "KAGURA_CACHE_RETRY_SECONDS": "0"}  # fmt: skip
            env.pop("GITHUB_TOKEN")
            env.pop("ANTHROPIC_API_KEY")
            out = docker_run(image, workspace, dirs, env, mounts=[origin])
            log = out.stdout + out.stderr
            logs.append(log)
            result = outputs(dirs)
            assert out.returncode == 0 and result["status"] == "shipped", log[-4000:]
            assert result["verdict"] == "green" and result["pr_number"]
            assert not_owned(workspace) == [], f"job {job}: files left root-owned in the workspace"
            assert "dubious ownership" not in log
        branch = subprocess.run(["git", "show", "kagura/7-add-a-greeting-file:hello.txt"], cwd=origin,
                                capture_output=True, text=True)  # fmt: skip
        assert branch.stdout == "hi\n"
        assert len(github.open_pulls()) == 2 and len(github.issue_comments(7)) == 1
        # job 2 started from a fresh checkout: what it knew of job 1 came through the cache
        assert "cache hit" in logs[1].lower() or "restored" in logs[1].lower(), logs[1][-3000:]
        job2_prompt = next(r.text() for r in model.model_requests() if "issue #8" in r.text())
        assert "Shipped #7" in job2_prompt  # job 1's outcome memory was recalled in job 2
        assert cache.blob_auth_headers == []  # the runtime token never went to a signed URL


# -- the project's own toolchain: setup, the setup cache and a real test suite ---------------
CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
CALC_TESTS = """from calc import add, sub


def test_add():
    assert add(2, 3) == 5


def test_sub_keeps_its_order():
    assert sub(5, 3) == 2
"""
PY_SETUP = ["python3 -m venv .venv", ".venv/bin/pip install -q -r requirements.txt"]
PY_CHECK = ".venv/bin/pytest -q"
MISSING = "kagura-no-such-package-0xdead"


def python_project(repo: Path, setup: list[str]) -> None:
    """A small real Python project: one function, a pytest suite, pytest from PyPI."""
    files = {
        "calc.py": CALC, "test_calc.py": CALC_TESTS, "requirements.txt": "pytest==8.3.4\n",
        "repo.yaml": json.dumps({"profile": "ci", "memory_backend": "local", "retries": 0, "setup": setup,
                                 "setup_cache": {"paths": [".venv"], "key_files": ["requirements.txt"]},
                                 "checks": [PY_CHECK]}),
    }  # fmt: skip
    for name, text in files.items():
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "the calc project"], cwd=repo, check=True)
    subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], cwd=repo, check=True)


def calc_model(body: dict) -> dict:
    """The scripted model: issue 7 fixes add and runs the suite; 8 breaks sub and relaxes repo.yaml."""
    from kagura_engineer.demo.anthropic import _text_of, bash

    prompt = "\n".join(_text_of(m.get("content")) for m in body.get("messages", []) if isinstance(m, dict))
    turn = sum(1 for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "assistant")
    if "issue #7" in prompt:
        steps = [write("{CWD}/calc.py", CALC.replace("return a - b\n\n\ndef sub", "return a + b\n\n\ndef sub")),
                 bash(PY_CHECK, "run the tests"), report("done", "Fixed add", ["calc.py"])]  # fmt: skip
    else:
        relaxed = json.dumps({"profile": "ci", "memory_backend": "local", "checks": ["true"]})
        steps = [write("{CWD}/calc.py", CALC.replace("def sub(a, b):\n    return a - b", "def sub(a, b):\n    return b - a")),
                 write("{CWD}/repo.yaml", relaxed), report("done", "Changed sub", ["calc.py", "repo.yaml"])]  # fmt: skip
    return steps[min(turn, len(steps) - 1)]


def setup_seconds(log: str) -> float:
    import re

    match = re.search(r"── setup (?:done|failed) \((\d+\.\d)s\) ──", log)
    assert match, log[-3000:]
    return float(match.group(1))


def test_a_python_projects_own_tests_gate_the_run_green_red_and_setup_failure(image, git_repo, tmp_path):
    origin = tmp_path / "origin.git"
    python_project(git_repo, PY_SETUP)
    runtime_token = "actions-runtime-token-0123456789"
    with GitHubStandIn(token=TOKEN, repo_path=origin) as github, AnthropicStandIn([calc_model]) as model, \
            ActionsCacheStandIn(token=runtime_token) as cache:  # fmt: skip
        github.set_permission("octocat", "write")
        jobs = {7: "Fix add", 8: "Change sub", 9: "Anything"}
        for number, title in jobs.items():
            github.add_issue(number, title, f"Please {title.lower()}.")
        logs, results = {}, {}
        for number, title in jobs.items():
            if number == 9:  # a setup that cannot succeed, committed to main: its own red
                python_project(git_repo, [*PY_SETUP, f".venv/bin/pip install -q {MISSING}"])
            workspace = fresh_checkout(origin, tmp_path / f"ws{number}")
            dirs = runner_layout(tmp_path / f"job{number}", workspace, labeled(number, title))
            env = {**github.env(), **model.env(), "GITHUB_EVENT_NAME": "issues", "INPUT_COMMAND": "auto",
                   "INPUT_GITHUB_TOKEN": TOKEN, "INPUT_ANTHROPIC_API_KEY": ANTHROPIC_KEY, "INPUT_CACHE": "true",
                   "ACTIONS_RESULTS_URL": cache.url + "/", "ACTIONS_RUNTIME_TOKEN": runtime_token,
                   "GITHUB_RUN_ID": str(4300 + number), "KAGURA_CACHE_RETRY_SECONDS": "0"}  # fmt: skip
            env.pop("GITHUB_TOKEN")
            env.pop("ANTHROPIC_API_KEY")
            out = docker_run(image, workspace, dirs, env, mounts=[origin])
            logs[number] = out.stdout + out.stderr
            results[number] = outputs(dirs)
            assert not_owned(workspace) == [], f"job {number}: files left root-owned in the workspace"
        comments = {n: "\n".join(c["body"] for c in github.issue_comments(n)) for n in jobs}
        tool_outputs = [t for r in model.model_requests() for t in tool_results(r.json())]
    # 7: the fix makes the suite pass: green, and the agent itself ran the suite with the venv
    assert results[7]["status"] == "shipped" and results[7]["verdict"] == "green", logs[7][-4000:]
    assert any("2 passed" in t for t in tool_outputs), tool_outputs
    assert "setup cache miss" in logs[7] and "setup cache saved" in logs[7]
    branch = subprocess.run(["git", "ls-tree", "-r", "--name-only", "kagura/7-fix-add"], cwd=origin,
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert ".venv/pyvenv.cfg" not in branch and "calc.py" in branch
    # 8: the change breaks a test: red, naming it; the repo.yaml it edited changed nothing
    assert results[8]["status"] == "blocked" and results[8]["verdict"] == "red", logs[8][-4000:]
    assert "test_sub_keeps_its_order" in comments[8]
    assert "setup cache hit" in logs[8]
    # 9: setup itself fails: its own red reason, before any agent work
    assert results[9]["status"] == "blocked", logs[9][-4000:]
    assert f"setup failed: .venv/bin/pip install -q {MISSING}" in comments[9]
    cold, warm = setup_seconds(logs[7]), setup_seconds(logs[8])
    print(f"setup: cold {cold:.1f}s (cache miss, pip from PyPI), warm {warm:.1f}s (cache hit)")
