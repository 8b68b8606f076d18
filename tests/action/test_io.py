"""The runner protocol: outputs round-trip through the runner's parser, escaping, caps, masks."""

from __future__ import annotations

import io
import re

import pytest

from filecommands import parse_file_commands
from kagura_engineer.action.command import run_action
from kagura_engineer.proc import register_secret
from kagura_engineer.workflow import (
    SUMMARY_LIMIT,
    ActionIO,
    escape_data,
    escape_property,
    file_command_entry,
    format_command,
    untrusted_block,
    write_untrusted,
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


# -- untrusted text in the log ------------------------------------------------------------------
INJECTION = (
    "Fix the login redirect\n"
    "::add-mask::every-word-is-stars-now\n"
    "  ::set-env name=NODE_OPTIONS::--require /tmp/x.js\n"
    "::error file=a.py,line=1::not ours\n"
    "see ##[warning]legacy form, mid-line\n"
    "::stop-commands::guess\n"
)


def runner_commands(log: str) -> list[str]:
    """The workflow commands the runner would act on in `log` (ActionCommandManager's rules).

    A line is a command if, after leading whitespace, it starts with `::name` and has a second
    `::`, or if it holds `##[name]` anywhere. After `::stop-commands::T` nothing is a command
    until `::T::`.
    """
    acted: list[str] = []
    stop_token = None
    for line in log.splitlines():
        text = line.lstrip()
        name = None
        if text.startswith("::") and "::" in text[2:]:
            name = text[2:].split("::", 1)[0].split(" ", 1)[0]
        elif "##[" in line and "]" in line.split("##[", 1)[1]:
            name = line.split("##[", 1)[1].split("]", 1)[0].split(" ", 1)[0]
        if name is None:
            continue
        if stop_token is not None:
            if name.lower() == stop_token.lower():
                stop_token = None
            continue
        if name == "stop-commands":
            stop_token = text.split("::", 2)[2]
            continue
        acted.append(line)
    return acted


def test_untrusted_text_sits_between_stop_markers_and_is_inert():
    out = io.StringIO()
    aio = ActionIO({}, out)
    aio.notice("ours")
    aio.untrusted(INJECTION)
    aio.notice("ours again")
    log = out.getvalue()
    lines = log.splitlines()
    assert lines[0] == "::notice::ours" and lines[-1] == "::notice::ours again"
    token = lines[1].removeprefix("::stop-commands::")
    assert re.fullmatch(r"[0-9a-f]{32}", token) and lines[-2] == f"::{token}::"
    assert lines[2:-2] == INJECTION.splitlines()  # the text itself, unchanged
    assert runner_commands(log) == ["::notice::ours", "::notice::ours again"]


def test_the_checker_sees_the_injection_when_it_is_not_wrapped():
    """Control for the test above: unwrapped, every injected line would be acted on."""
    acted = runner_commands(INJECTION)
    assert len(acted) == 4 and acted[0].startswith("::add-mask::")


def test_the_stop_token_is_random_per_call_and_never_in_the_text():
    tokens = set()
    for _ in range(20):
        block = untrusted_block("::x::")
        tokens.add(block.splitlines()[0].removeprefix("::stop-commands::"))
    assert len(tokens) == 20
    block = untrusted_block("abc")
    token = block.splitlines()[0].removeprefix("::stop-commands::")
    assert token not in "abc" and block == f"::stop-commands::{token}\nabc\n::{token}::\n"


def test_log_lines_that_could_be_commands_are_wrapped():
    out = io.StringIO()
    aio = ActionIO({}, out)
    aio.log("intent: run #42 (labeled '##[error]boom')")
    aio.log("ok\n   ::set-env name=X::1")
    aio.log("plain line")
    log = out.getvalue()
    assert runner_commands(log) == []
    assert log.count("::stop-commands::") == 2 and log.endswith("\nplain line\n")
    assert "##[error]boom" in log and "   ::set-env name=X::1" in log


@pytest.mark.parametrize("actions", [True, False])
def test_write_untrusted_wraps_only_in_actions(actions):
    stream = io.StringIO()
    register_secret("s3cret-for-write-untrusted")
    env = {"GITHUB_ACTIONS": "true"} if actions else {}
    write_untrusted(INJECTION + "token s3cret-for-write-untrusted", stream, env)
    text = stream.getvalue()
    assert "s3cret-for-write-untrusted" not in text and "token ***" in text
    assert text.startswith("::stop-commands::") is actions
    assert (runner_commands(text) == []) is actions


def test_the_action_wraps_what_a_command_printed(action_env, standin):
    from kagura_engineer.action.dispatch import Outcome
    from kagura_engineer.status import Ending, Status

    from .conftest import Recorder, issue_payload

    recorder = Recorder(Outcome(0, Ending(Status.SHIPPED), log=INJECTION))
    payload = issue_payload("issues/labeled.json", label={"name": "kagura"})
    code, log = action_env.event("issues", payload).run(recorder)
    assert code == 0 and len(recorder.calls) == 1
    assert "::add-mask::every-word-is-stars-now" in log
    acted = runner_commands(log)
    assert acted and not [
        line for line in acted if "every-word-is-stars" in line or "set-env" in line or "not ours" in line
    ]


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
