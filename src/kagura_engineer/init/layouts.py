"""The common project layouts `init` recognises, and the `setup`/`checks` each one needs.

- Python: `pyproject.toml` (installed editable, with its `test`/`tests`/`dev` extra when it has
  one) or `requirements*.txt`, in a venv at `.venv`; checks run the venv's pytest.
- Node: `package.json`; npm, pnpm or yarn chosen by the lockfile; node and npm from Debian.
- Go: `go.mod`; Debian's golang-go. Rust: `Cargo.toml`; Debian's cargo.

Detection reads files only; nothing runs. Several layouts in one repository add up.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    name: str
    setup: tuple[str, ...]
    checks: tuple[str, ...]
    cache_paths: tuple[str, ...] = ()
    key_files: tuple[str, ...] = ()


@dataclass
class Detected:
    """What init writes: the layouts found and their setup, checks and cache, merged."""

    layouts: list[Layout] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [layout.name for layout in self.layouts]

    @property
    def setup(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for layout in self.layouts for c in layout.setup))

    @property
    def checks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for layout in self.layouts for c in layout.checks))

    @property
    def cache(self) -> dict[str, list[str]] | None:
        paths = list(dict.fromkeys(p for layout in self.layouts for p in layout.cache_paths))
        keys = list(dict.fromkeys(k for layout in self.layouts for k in layout.key_files))
        return {"paths": paths, "key_files": keys} if paths and keys else None


def _python(root: Path) -> Layout | None:
    requirements = sorted(p.name for p in root.glob("requirements*.txt") if p.is_file())
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() and not requirements:
        return None
    setup = ["python3 -m venv .venv"]
    keys: list[str] = []
    if pyproject.is_file():
        extras = _extras(pyproject)
        extra = next((e for e in ("test", "tests", "testing", "dev") if e in extras), None)
        setup.append(f".venv/bin/pip install -e '.[{extra}]'" if extra else ".venv/bin/pip install -e .")
        keys.append("pyproject.toml")
    for name in requirements:
        setup.append(f".venv/bin/pip install -r {name}")
        keys.append(name)
    if not _mentions_pytest(root, requirements):
        setup.append(".venv/bin/pip install pytest")
    return Layout("python", tuple(setup), (".venv/bin/python -m pytest -q",), (".venv",), tuple(keys))


def _extras(pyproject: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    extras = (data.get("project") or {}).get("optional-dependencies") or {}
    return extras if isinstance(extras, dict) else {}


def _mentions_pytest(root: Path, requirements: list[str]) -> bool:
    texts = [root / "pyproject.toml", *(root / name for name in requirements)]
    for path in texts:
        try:
            if "pytest" in path.read_text(encoding="utf-8").lower():
                return True
        except (OSError, UnicodeDecodeError):
            continue
    return False


NODE = "apt-get install -y --no-install-recommends nodejs npm"
#: lockfile -> (setup after node, the test command prefix)
MANAGERS = (
    ("pnpm-lock.yaml", ("npm install -g pnpm", "pnpm install --frozen-lockfile"), "pnpm"),
    ("yarn.lock", ("npm install -g yarn", "yarn install --frozen-lockfile"), "yarn"),
    ("package-lock.json", ("npm ci",), "npm"),
)


def _node(root: Path) -> Layout | None:
    package = root / "package.json"
    if not package.is_file():
        return None
    lockfile, steps, manager = next(
        ((lock, steps, m) for lock, steps, m in MANAGERS if (root / lock).is_file()),
        (None, ("npm install",), "npm"),
    )
    # `npm install -g` writes under /usr: written `{run, as: root}` by the template (see render)
    setup = (NODE, *steps)
    checks: tuple[str, ...] = ()
    try:
        scripts = json.loads(package.read_text(encoding="utf-8")).get("scripts") or {}
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        scripts = {}
    test = scripts.get("test") if isinstance(scripts, dict) else None
    if isinstance(test, str) and "no test specified" not in test:
        checks = (f"{manager} test",)
    keys = (lockfile,) if lockfile else ("package.json",)
    return Layout(f"node ({manager})", setup, checks, ("node_modules",), keys)


def _go(root: Path) -> Layout | None:
    if not (root / "go.mod").is_file():
        return None
    return Layout("go", ("apt-get install -y --no-install-recommends golang-go", "go mod download"),
                  ("go test ./...",))  # fmt: skip


def _rust(root: Path) -> Layout | None:
    if not (root / "Cargo.toml").is_file():
        return None
    return Layout(
        "rust", ("apt-get install -y --no-install-recommends cargo", "cargo fetch"), ("cargo test",)
    )


def detect(root: Path) -> Detected:
    """Every layout found at the top of `root`, in a fixed order (python, node, go, rust)."""
    found = [layout for probe in (_python, _node, _go, _rust) if (layout := probe(root)) is not None]
    return Detected(found)


#: Setup commands that need root without starting with apt-get/apt/dpkg.
ROOT_COMMANDS = frozenset({"npm install -g pnpm", "npm install -g yarn"})
