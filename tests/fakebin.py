"""Small executables placed first on PATH, standing in for apt-get, npm, claude, gh, ollama...

Each fake is a tiny Python script (stdlib only) that appends its argv to a JSONL log, then
answers as told: stdout, stderr, exit code, an optional sleep, and optionally `creates`
other fakes (a fake `apt-get install -y git` leaves a fake `git` behind, as the real one would;
a name that is an absolute path is created there instead of in the fake dir).
Replies are chosen by argv prefix: `on={"install -y git": Reply(...)}`; the longest matching
key wins, else the default reply.

    fb = FakeBin(tmp_path)
    fb.add("npm", on={"install": Reply(creates={"claude": Reply(stdout="2.1.331 (Claude Code)")})})
    fb.use(monkeypatch)           # PATH = the fake dir only (plus any linked real binaries)
    ...
    assert fb.calls("npm") == [["npm", "install", "-g", "@anthropic-ai/claude-code@2.1.331"]]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

LOGGED_ENV = ("DEBIAN_FRONTEND", "OLLAMA_HOST", "GH_TOKEN", "GITHUB_TOKEN")


@dataclass
class Reply:
    stdout: str = ""
    stderr: str = ""
    exit: int = 0
    sleep: float = 0.0
    creates: dict[str, Reply] = field(default_factory=dict)

    def spec(self) -> dict:
        data = asdict(self)
        data["creates"] = {name: reply.spec() for name, reply in self.creates.items()}
        return data


class FakeBin:
    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / "fakebin"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = Path(root) / "fakebin-calls.jsonl"
        self.log.touch()
        self._real_path = os.environ.get("PATH", "")  # where `link` finds real binaries

    def add(
        self, name: str, reply: Reply | None = None, *, on: dict[str, Reply] | None = None, **kwargs
    ) -> Path:
        """Write fake `name`; `reply` (or Reply(**kwargs)) is the default answer."""
        default = reply or Reply(**kwargs)
        spec = {"default": default.spec(), "on": {k: r.spec() for k, r in (on or {}).items()}}
        return write_fake(self.dir, name, spec, str(self.log))

    def link(self, name: str) -> Path:
        """Make the real `name` (found on the current PATH) available inside the fake dir."""
        real = shutil.which(name, path=self._real_path)
        assert real, f"{name} is not installed on this machine"
        target = self.dir / name
        if not target.exists():
            target.symlink_to(real)
        return target

    def remove(self, name: str) -> None:
        (self.dir / name).unlink(missing_ok=True)

    def use(self, monkeypatch, *extra_dirs: str) -> None:
        monkeypatch.setenv("PATH", os.pathsep.join([str(self.dir), *extra_dirs]))

    def records(self) -> list[dict]:
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def calls(self, name: str | None = None) -> list[list[str]]:
        return [r["argv"] for r in self.records() if name is None or r["name"] == name]


_SCRIPT = """#!{python} -IS
import sys
sys.path.insert(0, {here!r})
from fakebin import run_fake
run_fake({name!r}, {spec!r}, {log!r}, {dir!r})
"""


def write_fake(directory: Path, name: str, spec: dict, log: str) -> Path:
    path = Path(directory) / name
    path.unlink(missing_ok=True)
    here = str(Path(__file__).resolve().parent)
    path.write_text(
        _SCRIPT.format(
            python=sys.executable, here=here, name=name, spec=json.dumps(spec), log=log, dir=str(directory)
        )
    )
    path.chmod(0o755)
    return path


def run_fake(name: str, spec_json: str, log: str, directory: str) -> None:
    """The body of every fake (runs in the fake's own process)."""
    spec = json.loads(spec_json)
    args = sys.argv[1:]
    record = {
        "name": name,
        "argv": [name, *args],
        "env": {k: os.environ[k] for k in LOGGED_ENV if k in os.environ},
    }
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    joined = " ".join(args)
    reply = spec["default"]
    for key in sorted(spec["on"], key=len, reverse=True):
        if joined == key or joined.startswith(key + " "):
            reply = spec["on"][key]
            break
    if reply["sleep"]:
        time.sleep(reply["sleep"])
    for child, child_spec in reply["creates"].items():
        where = Path(directory)
        if os.path.isabs(child):  # a fake installed elsewhere (e.g. into an npm --prefix)
            where, child = Path(child).parent, Path(child).name
            where.mkdir(parents=True, exist_ok=True)
        write_fake(where, child, {"default": child_spec, "on": {}}, log)
    sys.stdout.write(reply["stdout"])
    sys.stderr.write(reply["stderr"])
    sys.exit(reply["exit"])
