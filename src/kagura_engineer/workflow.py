"""The one module that speaks the runner's protocol: workflow commands and environment files.

- `::add-mask::` for secrets (each line of a multi-line value too), printed before any
  other line; `::group::`/`::endgroup::`; `::error`/`::warning`/`::notice` annotations.
- Text from outside (issue titles and bodies, comments, model and reviewer output, check
  output, agent summaries) is printed only through `untrusted_block`: between
  `::stop-commands::<token>` and `::<token>::` with a fresh random token per call, so no line
  of it is read as a workflow command. The runner finds `::cmd::` after leading whitespace
  and the legacy `##[cmd]` anywhere in a line, so indenting a line does not defuse it; a
  `log` line that could parse as a command is wrapped the same way. Outside the Action's
  main step, `write_untrusted` does this for any stream when `GITHUB_ACTIONS=true`.
- Escaping as the runner unescapes (`ActionCommand.cs`): in data `%` `\\r` `\\n`; in
  property values also `:` and `,`.
- `GITHUB_OUTPUT` / `GITHUB_STATE`: always the delimiter form `name<<ghadelimiter_<uuid>`,
  value lines, delimiter line, with a fresh random delimiter the value cannot contain.
- `GITHUB_STEP_SUMMARY`: markdown, capped at 1 MiB per step (a larger file is dropped by the
  runner), cut on a line boundary.

Every line that leaves here passes through `proc.redact`.
"""

from __future__ import annotations

import os
import secrets
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from kagura_engineer.proc import redact, register_secret

SUMMARY_LIMIT = 1024 * 1024
MESSAGE_LIMIT = 4096  # the runner cuts annotation messages here
_TRUNCATED = "\n\n_(summary truncated to fit GitHub's 1 MiB limit)_\n"


def escape_data(value: str) -> str:
    """Escape a command's data part (after `::`)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a command property value (`title=...`)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def format_command(command: str, data: str = "", **properties: object) -> str:
    """`::command k=v,k2=v2::data`, escaped; properties whose value is None are left out."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v is not None)
    return f"::{command}{' ' + props if props else ''}::{escape_data(data)}"


def _stop_token(text: str) -> str:
    while True:
        token = secrets.token_hex(16)
        if token not in text:
            return token


def untrusted_block(text: str) -> str:
    """Redacted `text` between `::stop-commands::<token>` and `::<token>::`, newline-terminated.

    The token is random per call and never occurs in the text, so the text cannot end the block.
    """
    body = redact(text).replace("\r\n", "\n").replace("\r", "\n")
    token = _stop_token(body)
    return f"::stop-commands::{token}\n{body.rstrip(chr(10))}\n::{token}::\n"


def could_be_command(line: str) -> bool:
    """Whether the runner might read `line` as a workflow command (`::x::` or legacy `##[x]`)."""
    return line.lstrip().startswith("::") or "##[" in line


def write_untrusted(
    text: str, stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> None:
    """Print text that came from outside to `stream` (stderr): redacted, and in Actions inert."""
    out = stream or sys.stderr
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        out.write(untrusted_block(text))
    else:
        out.write(redact(text).rstrip("\n") + "\n")
    out.flush()


def file_command_entry(name: str, value: str) -> str:
    """One `GITHUB_OUTPUT`/`GITHUB_STATE` entry in the delimiter form, newline-terminated."""
    if not name or any(c in name for c in "\r\n=") or "<<" in name:
        raise ValueError(f"invalid output name {name!r}")
    while True:
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        if delimiter not in name and delimiter not in value:
            break
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


class ActionIO:
    """Workflow commands to `out` (stdout), environment files from `environ`."""

    def __init__(self, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.out = out or sys.stdout
        self._masked: set[str] = set()
        self._in_group = False

    def _emit(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    # -- masking --------------------------------------------------------------------
    def mask(self, value: str | None) -> None:
        """Mask `value` in the job log (and each of its lines) and redact it here from now on."""
        if not value or not value.strip():
            return
        parts = [value.strip(), *(line.strip() for line in value.splitlines())]
        for part in dict.fromkeys(p for p in parts if p):
            if part not in self._masked:
                self._masked.add(part)
                self._emit(format_command("add-mask", part))
            register_secret(part)

    # -- log lines --------------------------------------------------------------------
    def log(self, message: str) -> None:
        """Log lines we wrote (redacted); if one could parse as a workflow command, all are inert."""
        text = redact(message)
        lines = text.splitlines() or [""]
        if any(could_be_command(line) for line in lines):
            self.untrusted(text)
            return
        for line in lines:
            self._emit(line)

    def untrusted(self, text: str) -> None:
        """Text from outside (issue, comment, model, checks): printed between stop-commands markers."""
        self.out.write(untrusted_block(text))
        self.out.flush()

    def annotate(self, level: str, message: str, title: str | None = None, **props: object) -> None:
        """`::error`/`::warning`/`::notice` with escaped message and properties."""
        if level not in ("error", "warning", "notice", "debug"):
            raise ValueError(f"unknown annotation level {level!r}")
        text = redact(message)[:MESSAGE_LIMIT]
        title = redact(title)[:200] if title else None
        self._emit(format_command(level, text, title=title, **props))

    def error(self, message: str, title: str | None = None, **props: object) -> None:
        self.annotate("error", message, title, **props)

    def warning(self, message: str, title: str | None = None, **props: object) -> None:
        self.annotate("warning", message, title, **props)

    def notice(self, message: str, title: str | None = None, **props: object) -> None:
        self.annotate("notice", message, title, **props)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group (groups do not nest in Actions: an inner one is flattened)."""
        if self._in_group:
            self.log(f"-- {title}")
            yield
            return
        self._emit(format_command("group", redact(title)))
        self._in_group = True
        try:
            yield
        finally:
            self._in_group = False
            self._emit("::endgroup::")

    # -- environment files ---------------------------------------------------------------
    def _append(self, variable: str, entry: str) -> bool:
        path = self.environ.get(variable)
        if not path:
            return False
        with open(path, "a", encoding="utf-8", newline="\n") as fh:
            fh.write(entry)
        return True

    def set_output(self, name: str, value: object) -> bool:
        """Append an output to `GITHUB_OUTPUT` (None -> ""). False outside Actions."""
        text = "" if value is None else redact(str(value))
        return self._append("GITHUB_OUTPUT", file_command_entry(name, text))

    def set_outputs(self, values: Mapping[str, object]) -> None:
        for name, value in values.items():
            self.set_output(name, value)

    def save_state(self, name: str, value: object) -> bool:
        """Pass a value to the post step (it arrives there as `STATE_<name>`)."""
        text = "" if value is None else redact(str(value))
        return self._append("GITHUB_STATE", file_command_entry(name, text))

    def write_summary(self, markdown: str, append: bool = True) -> bool:
        """Write markdown to `GITHUB_STEP_SUMMARY`, keeping the file within 1 MiB."""
        return write_summary_file(self.environ.get("GITHUB_STEP_SUMMARY"), redact(markdown), append)


def write_summary_file(path: str | Path | None, text: str, append: bool = True, marker: str = _TRUNCATED) -> bool:
    """Write `text` to the step summary file at `path` (replace, or `append`), within GitHub's 1 MiB.

    Text that does not fit is cut at a line end and ends with `marker`. False when there is no
    summary file (not in Actions) or no room left.
    """
    if not path:
        return False
    target = Path(path)
    used = target.stat().st_size if append and target.exists() else 0
    room = SUMMARY_LIMIT - used
    data = text.encode("utf-8")
    if len(data) > room:
        tail = marker.encode("utf-8")
        keep = room - len(tail)
        if keep <= 0:
            return False
        cut = data[:keep]
        newline = cut.rfind(b"\n")
        cut = cut[: newline + 1] if newline > 0 else cut
        data = cut.decode("utf-8", errors="ignore").encode("utf-8") + tail
    with open(target, "ab" if append else "wb") as fh:
        fh.write(data)
    return True


def workflow_run_url(server_url: str, owner: str, repo: str, run_id: int | str) -> str:
    """`{server_url}/{owner}/{repo}/actions/runs/{run_id}` (GitHub Enterprise Server too): the one
    place a run's URL is built."""
    return f"{server_url.rstrip('/')}/{owner}/{repo}/actions/runs/{run_id}"


def run_url(environ: Mapping[str, str] | None = None) -> str | None:
    """This workflow run's page from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`; else None."""
    env = os.environ if environ is None else environ
    server, repository, run_id = (
        env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if not (server and repository and run_id) or "/" not in repository:
        return None
    owner, repo = repository.split("/", 1)
    return workflow_run_url(server, owner, repo, run_id)
