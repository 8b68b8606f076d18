"""The one subprocess helper: argv only, timeouts, an env allow-list, redaction.

Every external program (git, claude, gh, npm, the repository's checks, the reviewer)
starts through `run` or `spawn`. Nothing here ever uses a shell on untrusted text; the
repository owner's `checks` are the only shell strings, and they go through `run_shell`,
which says so in its name.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kagura_engineer.errors import ProcError


@dataclass(frozen=True)
class Identity:
    """The unprivileged account a child runs as (the agent user): see `agent/user.py`.

    `home` and `tmp` are directories that account owns; they replace HOME/TMPDIR, and
    USER/LOGNAME name the account, so nothing of the harness's own home is implied.
    """

    name: str
    uid: int
    gid: int
    home: str
    tmp: str

    def env(self) -> dict[str, str]:
        return {"HOME": self.home, "TMPDIR": self.tmp, "USER": self.name, "LOGNAME": self.name, "SHELL": "/bin/bash"}


def _drop(user: Identity | None) -> dict[str, object]:
    """The Popen arguments that start a child as `user`: this is the one place a drop happens.

    setgroups([]) / setgid / setuid in the child before exec (no supplementary groups), and a
    umask that keeps what it writes private to it. A child of another uid cannot read the
    harness's /proc/PID/environ, memory or file descriptors.
    """
    if user is None:
        return {}
    return {"user": user.uid, "group": user.gid, "extra_groups": [], "umask": 0o077}

#: Environment variables every child gets (when set): locale, paths, proxy and CA settings.
BASE_ENV: tuple[str, ...] = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE",
    "TERM", "TMPDIR", "TZ",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
)  # fmt: skip

#: Variables whose values are secrets wherever they appear.
SECRET_ENV: tuple[str, ...] = (
    "GITHUB_TOKEN", "GH_TOKEN", "INPUT_GITHUB_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
    "INPUT_ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "INPUT_CLAUDE_CODE_OAUTH_TOKEN",
    "KAGURA_API_KEY", "INPUT_KAGURA_API_KEY", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK",
)  # fmt: skip

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "***"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), "***"),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{10,}"), "***"),
    (re.compile(r"\bkagura_[A-Za-z0-9_\-]{20,}"), "***"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "***"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), "***"),
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*\"?(?:bearer|token|basic)\s+)[^\s\"']+"), r"\1***"),
    (re.compile(r"(?i)\b(x-api-key\s*[:=]\s*\"?)[^\s\"']+"), r"\1***"),
    (re.compile(r"(?i)(https?://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
)

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact `value` from every output this process produces from now on."""
    if value and len(value.strip()) >= 4:
        _registered.add(value.strip())


def register_env_secrets(environ: Mapping[str, str] | None = None) -> None:
    """Register the values of the well-known secret variables that are set."""
    environ = os.environ if environ is None else environ
    for name in SECRET_ENV:
        register_secret(environ.get(name))


def redact(text: str) -> str:
    """Replace registered secret values and known secret shapes with `***`."""
    if not text:
        return text
    for value in sorted(_registered, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def build_env(
    extra: Mapping[str, str] | None = None,
    passthrough: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The child environment: BASE_ENV plus named `passthrough` variables plus `extra`.

    Inherited `GIT_*` variables are dropped unless named, so a leaked GIT_DIR or
    GIT_INDEX_FILE cannot redirect git; secrets reach a child only when named.
    """
    environ = os.environ if environ is None else environ
    env = {k: environ[k] for k in BASE_ENV if k in environ}
    for name in passthrough:
        if name in environ:
            env[name] = environ[name]
    if extra:
        env.update({k: v for k, v in extra.items() if v is not None})
    return env


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, chars: int = 2000) -> str:
        """The redacted end of stderr (else stdout), for error messages."""
        text = (self.stderr or self.stdout or "").strip()
        return redact(text[-chars:])

    def check(self, what: str | None = None) -> Result:
        """Raise ProcError naming the command, its code and the redacted output tail."""
        if self.ok:
            return self
        label = what or " ".join(self.argv[:3])
        if self.timed_out:
            raise ProcError(f"{label}: timed out after {self.seconds:.0f}s", returncode=self.returncode)
        tail = self.tail(800)
        detail = f": {tail.splitlines()[-1]}" if tail else ""
        raise ProcError(f"{label} exited {self.returncode}{detail}", returncode=self.returncode)


def _argv(argv: Sequence[str]) -> list[str]:
    if isinstance(argv, (str, bytes)):
        raise TypeError("proc: argv must be a sequence of arguments, never a shell string")
    return [os.fspath(a) for a in argv]


def kill_tree(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the child's whole process group (it was started in a new session)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
    passthrough: Iterable[str] = (),
    input: str | None = None,
    check: bool = False,
    user: Identity | None = None,
) -> Result:
    """Run argv to completion. A missing executable is returncode 127, not an exception.

    `user`: run as that unprivileged account (its HOME/TMPDIR/USER override the env).
    """
    args = _argv(argv)
    child_env = build_env({**(env or {}), **(user.env() if user else {})}, passthrough)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=child_env,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
            **_drop(user),  # type: ignore[arg-type]
        )
    except FileNotFoundError:
        result = Result(tuple(args), 127, "", f"{args[0]}: executable not found", 0.0)
        return result.check() if check else result
    except PermissionError as exc:
        result = Result(tuple(args), 126, "", f"{args[0]}: {exc.strerror}", 0.0)
        return result.check() if check else result
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        kill_tree(proc, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            kill_tree(proc, signal.SIGKILL)
            out, err = proc.communicate()
        timed_out = True
    except BaseException:
        kill_tree(proc, signal.SIGKILL)
        proc.wait()
        raise
    result = Result(tuple(args), proc.returncode, out or "", err or "", time.monotonic() - start, timed_out)
    return result.check() if check else result


def run_shell(
    command: str,
    *,
    cwd: str | os.PathLike[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
    passthrough: Iterable[str] = (),
    user: Identity | None = None,
) -> Result:
    """Run one of the repository owner's configured `checks` through `bash -c`.

    Only repo.yaml `checks` come here: text from issues, comments or models never does.
    `user`: the agent user, whenever there is one (a check runs what the agent wrote).
    """
    return run(["bash", "-c", command], cwd=cwd, timeout=timeout, env=env, passthrough=passthrough, user=user)


def spawn(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    passthrough: Iterable[str] = (),
    user: Identity | None = None,
    stdin_pipe: bool = False,
) -> subprocess.Popen:
    """Start argv for streaming: stdin /dev/null (a pipe with `stdin_pipe`), stdout/stderr
    pipes, own process group."""
    return subprocess.Popen(
        _argv(argv),
        cwd=cwd,
        env=build_env({**(env or {}), **(user.env() if user else {})}, passthrough),
        stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        start_new_session=True,
        **_drop(user),  # type: ignore[arg-type]
    )


def which(name: str, path: str | None = None) -> str | None:
    """shutil.which, in one place so tests can reason about PATH lookups."""
    return shutil.which(name, path=path)
