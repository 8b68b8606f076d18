"""The CLI shell: instant --version, lazy imports, honest exit codes, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import kagura_engineer
from kagura_engineer.cli import COMMANDS, main

HEAVY = ("pydantic", "ghapi", "httpx", "yaml", "tenacity", "kagura_memory", "numpy")


def test_version_imports_nothing_heavy():
    code = (
        "import sys; from kagura_engineer.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert f"kagura-engineer {kagura_engineer.__version__}" in out.stdout


def test_every_command_module_configures_and_has_main():
    import importlib

    for name, (module, _summary) in COMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a command whose module has not landed yet
            pytest.fail(f"{name}: {exc}")
        assert callable(mod.configure) and callable(mod.main), name


def test_help_lists_commands_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out
    assert "exit codes" in out


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def test_unknown_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--definitely-not-a-flag"])
    assert exc.value.code == 2


def test_public_surface_is_pinned():
    assert sorted(kagura_engineer.__all__) == ["CLAUDE_CODE_VERSION", "__version__"]


def test_only_the_program_freezes_its_objects_before_exit(tmp_path):
    # `main()` as the program ends the process next: its objects are frozen so the
    # interpreter's final collection skips them. `main(argv)` from a caller keeps going.
    code = (
        "import gc, sys; from kagura_engineer.cli import main\n"
        "first = main(['savepoint', 'list', '--json']); caller = gc.get_freeze_count()\n"
        "sys.argv = ['kagura-engineer', 'savepoint', 'list', '--json']\n"
        "second = main(); print(first, second, caller, gc.get_freeze_count() > 0)\n"
    )
    env = {**os.environ, "KAGURA_MEMORY_DB": str(tmp_path / "memory.db")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "0 0 0 True"
