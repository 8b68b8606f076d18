"""The runner protocol: outputs round-trip through the runner's parser, escaping, caps, masks."""

from __future__ import annotations

import io
import re

import pytest

from filecommands import parse_file_commands
from kagura_engineer.action.command import run_action
from kagura_engineer.action.io import (
    SUMMARY_LIMIT,
    ActionIO,
    escape_data,
    escape_property,
    file_command_entry,
    format_command,
)


def unescape_data(value: str) -> str:
    """The runner's unescaping (ActionCommand.cs), for round-trip checks."""
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(value: str) -> str:
    return unescape_data(value.replace("%3A", ":").replace("%2C", ","))


@pytest.mark.parametrize(
    "value",
    ["plain", "", "multi\nline\nvalue", "ends with newline\n", "ghadelimiter_x\nEOF", "a=b<<c", "ümlaut ✓",
     "line\r\nwindows", "\n\nleading blank lines"],
)  # fmt: skip
def test_output_round_trip_through_the_runner_parser(tmp_path, value):
    path = tmp_path / "output"
    path.write_text("")
    aio = ActionIO({"GITHUB_OUTPUT": str(path)}, io.StringIO())
    aio.set_output("first", "1")
    aio.set_output("value", value)
    aio.set_output("last", "z")
    text = path.read_bytes().decode("utf-8")  # as the runner reads it: no newline translation
    assert parse_file_commands(text) == {"first": "1", "value": value, "last": "z"}
    delimiters = re.findall(r"<<(ghadelimiter_[0-9a-f-]{36})$", text, re.M)
    assert len(delimiters) == 3 and len(set(delimiters)) == 3  # random per entry


def test_a_value_never_contains_its_delimiter():
    for _ in range(50):
        entry = file_command_entry("n", "ghadelimiter_")
        header, _, rest = entry.partition("\n")
        delimiter = header.split("<<", 1)[1]
        assert delimiter not in "ghadelimiter_" and rest.endswith(f"\n{delimiter}\n")


@pytest.mark.parametrize("name", ["", "a\nb", "x=y", "x<<y"])
def test_invalid_output_names_are_refused(name):
    with pytest.raises(ValueError):
        file_command_entry(name, "v")


def test_outside_actions_outputs_are_a_no_op():
    assert ActionIO({}, io.StringIO()).set_output("status", "ok") is False


@pytest.mark.parametrize("text", ["100%", "a\r\nb", "x:y,z", "%0A literal", "::stop::"])
def test_escaping_round_trips(text):
    assert unescape_data(escape_data(text)) == text
    assert unescape_property(escape_property(text)) == text
    assert "\n" not in escape_data(text) and "\r" not in escape_data(text)
    assert ":" not in escape_property(text) and "," not in escape_property(text)


def test_annotation_format():
    out = io.StringIO()
    ActionIO({}, out).error("50% done\nsecond line", title="kagura: step 1, retry", file="src/a.py", line=3)
    line = out.getvalue()
    assert line == "::error title=kagura%3A step 1%2C retry,file=src/a.py,line=3::50%25 done%0Asecond line\n"
    assert format_command("warning", "w") == "::warning::w"


def test_log_lines_cannot_inject_workflow_commands():
    out = io.StringIO()
    ActionIO({}, out).log("ok\n::set-env name=X::1\n::add-mask::x")
    assert all(not line.startswith("::") for line in out.getvalue().splitlines())


def test_commands_stopped_pairs_its_token():
    out = io.StringIO()
    aio = ActionIO({}, out)
    with aio.commands_stopped() as token:
        out.write("::error::not ours\n")
    lines = out.getvalue().splitlines()
    assert lines[0] == f"::stop-commands::{token}" and lines[-1] == f"::{token}::" and len(token) >= 32


def test_summary_is_capped_at_one_mebibyte(tmp_path):
    path = tmp_path / "summary"
    aio = ActionIO({"GITHUB_STEP_SUMMARY": str(path)}, io.StringIO())
    assert aio.write_summary("# head\n")
    big = "".join(f"| row {i} | {'x' * 80} |\n" for i in range(20000))  # ~1.8 MB
    assert aio.write_summary(big)
    data = path.read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    assert data.startswith(b"# head\n") and data.endswith(
        b"_(summary truncated to fit GitHub's 1 MiB limit)_\n"
    )
    aio.write_summary(big)  # a full summary stays within the limit whatever is appended
    assert len(path.read_bytes()) <= SUMMARY_LIMIT


def test_summary_cut_keeps_utf8_whole(tmp_path):
    path = tmp_path / "summary"
    aio = ActionIO({"GITHUB_STEP_SUMMARY": str(path)}, io.StringIO())
    aio.write_summary("✓" * (SUMMARY_LIMIT // 2))  # 3 bytes each, no newlines
    path.read_bytes().decode("utf-8")  # no split character
    assert len(path.read_bytes()) <= SUMMARY_LIMIT


def test_masks_come_first_and_cover_every_line(tmp_path):
    secret = "ghs_maskFirst0123456789"
    multi = "line-one-secret\nline-two-secret"
    env = {"INPUT_GITHUB_TOKEN": secret, "INPUT_ANTHROPIC_API_KEY": "sk-ant-maskme-123", "INPUT_KAGURA-API-KEY": multi,
           "INPUT_COMMAND": "bogus", "GITHUB_OUTPUT": str(tmp_path / "o"), "HOME": str(tmp_path)}  # fmt: skip
    out = io.StringIO()
    code = run_action(environ=env, out=out)
    assert code == 2  # bad input: a config error, after the masks
    lines = out.getvalue().splitlines()
    masks = [line for line in lines if line.startswith("::add-mask::")]
    assert lines[: len(masks)] == masks  # nothing printed before the masks
    masked = {unescape_data(m.removeprefix("::add-mask::")) for m in masks}
    assert {secret, "sk-ant-maskme-123", multi, "line-one-secret", "line-two-secret"} <= masked
    rest = "\n".join(lines[len(masks) :])
    assert "kagura_api_key' contains whitespace" in rest  # validated only after masking
    for value in (secret, "sk-ant-maskme-123", "line-one-secret"):
        assert value not in rest
