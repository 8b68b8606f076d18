"""The agent's own account: who `claude` and the checks run as, and what they cannot reach.

When the harness runs as root (the container action, CI), the agent and every configured
check run as `kagura-agent`, an unprivileged account with no supplementary groups, its own
HOME and TMPDIR, and its own clone of the repository (`agent/clone.py`). The harness keeps
its secrets in its own environment, which another uid cannot read (/proc/PID/environ is
private to the uid), and `lock_down` closes the files it holds: the checkout (its `.git`
with the token `actions/checkout` may persist, `.kagura/` with the memory DB), the runner's
temp dir and file commands. Not root (a laptop): no drop is possible; `isolation_note()`
says what that means, once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kagura_engineer import proc
from kagura_engineer.errors import KaguraError

NAME = "kagura-agent"
#: Where the agent's homes and clones live when it is a user of its own (traversable by it).
DEFAULT_ROOT = "/tmp/kagura-agent"
PARTIAL = (
    "isolation is partial: not running as root, so claude and the checks run as this user and can "
    "read what it can (its environment's tokens, the checkout's .git, the memory DB)"
)

_warned = False


class IsolationError(KaguraError):
    code = "isolation"


@dataclass(frozen=True)
class AgentSpace:
    """Where one checkout's agent work lives: `root/<id>/{home,tmp}` and `root/<id>/<job>`."""

    base: Path
    user: proc.Identity | None

    def clone_path(self, job: str) -> Path:
        return self.base / job

    @property
    def config_dir(self) -> str:
        return str(self.base / "home" / ".claude")

    @property
    def tmp(self) -> str:
        return str(self.base / "tmp")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def isolation_note() -> str | None:
    """None when the agent gets a user of its own; else the one-line 'partial' explanation."""
    return None if is_root() else PARTIAL


def warn_once() -> None:
    """`run` prints the partial-isolation line once per process when not root."""
    global _warned
    if not _warned and not is_root():
        _warned = True
        print(f"warning: {PARTIAL}", file=sys.stderr)


def agent_space(checkout: Path, environ: Mapping[str, str] | None = None) -> AgentSpace:
    """The agent's space for `checkout`, creating the account and its directories as needed.

    As root: `$KAGURA_AGENT_ROOT` (default /tmp/kagura-agent), one folder per checkout,
    owned by the agent user, mode 0700. Not root: `<checkout>/.kagura/agent`, same user.
    """
    environ = os.environ if environ is None else environ
    ident = hashlib.sha256(str(checkout.resolve()).encode()).hexdigest()[:12]
    if not is_root():
        base = checkout / ".kagura" / "agent"
        for sub in ("", "home", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        return AgentSpace(base, None)
    uid, gid = ensure_account()
    root = Path(environ.get("KAGURA_AGENT_ROOT") or DEFAULT_ROOT)
    _own_dir(root, 0, 0, 0o711)
    base = root / ident
    _own_dir(base, uid, gid, 0o700)
    for sub in ("home", "home/.claude", "tmp"):
        _own_dir(base / sub, uid, gid, 0o700)
    user = proc.Identity(NAME, uid, gid, str(base / "home"), str(base / "tmp"))
    return AgentSpace(base, user)


def _own_dir(path: Path, uid: int, gid: int, mode: int) -> None:
    """`path` as a real directory owned by uid:gid with `mode`, never through a symlink."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        path.mkdir(mode=mode)
        st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise IsolationError(f"{path} exists and is not a directory", hint=f"remove {path}")
    if st.st_uid != uid or st.st_gid != gid:
        os.chown(path, uid, gid, follow_symlinks=False)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)


def ensure_account(name: str = NAME) -> tuple[int, int]:
    """(uid, gid) of the agent account, created when absent (useradd, else passwd/group entries)."""
    import pwd

    try:
        entry = pwd.getpwnam(name)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    if proc.which("useradd", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        proc.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name],
            timeout=30,
        )  # fmt: skip
    try:
        entry = pwd.getpwnam(name)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return _write_account(name)


def _write_account(name: str) -> tuple[int, int]:
    """Append passwd/group entries for `name` with a free system id (no useradd in the image)."""
    import grp
    import pwd

    used = {e.pw_uid for e in pwd.getpwall()} | {g.gr_gid for g in grp.getgrall()}
    uid = next(i for i in range(999, 100, -1) if i not in used)
    try:
        with open("/etc/group", "a", encoding="utf-8") as fh:
            fh.write(f"{name}:x:{uid}:\n")
        with open("/etc/passwd", "a", encoding="utf-8") as fh:
            fh.write(f"{name}:x:{uid}:{uid}:kagura-engineer agent:/nonexistent:/usr/sbin/nologin\n")
    except OSError as exc:
        raise IsolationError(f"cannot create the {name} account: {exc.strerror}") from None
    return uid, uid


def read_agent_file(path: str | os.PathLike[str], limit: int = 8 << 20) -> str | None:
    """A file the agent user could have written, read as data: never through a symlink (which
    could point at a file only root may read), never a FIFO or device (which could block the
    harness), at most `limit` bytes. None when it is absent or not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(limit).decode("utf-8", errors="replace")


def reachable_by_others(path: str | os.PathLike[str]) -> bool:
    """Whether a user other than the owner can execute `path` (o+x on it and every folder above)."""
    real = Path(os.path.realpath(path))
    for part in [real, *real.parents]:
        try:
            if not part.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def agent_executable(binary: str, environ: Mapping[str, str] | None = None) -> str:
    """`binary`, or a link to it the agent user can execute when a folder above it is private.

    e.g. claude installed in root's `~/.cache` (HOME=/root is 0700): a hard link (a copy across
    file systems) in `$KAGURA_AGENT_ROOT/bin`, root-owned and 0755, made once per version.
    """
    if not is_root() or reachable_by_others(binary):
        return binary
    environ = os.environ if environ is None else environ
    real = Path(os.path.realpath(binary))
    root = Path(environ.get("KAGURA_AGENT_ROOT") or DEFAULT_ROOT)
    _own_dir(root, 0, 0, 0o711)
    bindir = root / "bin"
    _own_dir(bindir, 0, 0, 0o755)
    st = real.stat()
    target = bindir / f"{real.name}-{st.st_size}-{int(st.st_mtime)}"
    if not target.is_file():
        partial = target.with_name(target.name + f".{os.getpid()}.tmp")
        try:
            os.link(real, partial)
        except OSError:
            shutil.copy2(real, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    return str(target)


def lock_down(paths: Iterable[str | os.PathLike[str] | None]) -> list[str]:
    """chmod go-rwx on each existing directory in `paths`; returns those it closed.

    The owner (the runner's uid on a hosted runner) keeps every right, so later steps of the
    job are unaffected; root (the harness) ignores modes; the agent user is kept out.
    """
    closed: list[str] = []
    for raw in paths:
        if not raw:
            continue
        path = Path(raw)
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or path == Path("/"):
            continue
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
            closed.append(str(path))
    return closed


def harness_paths(
    checkout: Path, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()
) -> list[str]:
    """What the agent user must not reach: the checkout, the harness's HOME, the runner's temp
    dir and the folders of the workflow file commands (GITHUB_OUTPUT, GITHUB_ENV, ...)."""
    environ = os.environ if environ is None else environ
    paths = [str(checkout), environ.get("HOME"), environ.get("RUNNER_TEMP"), *extra]
    for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE", "GITHUB_STEP_SUMMARY"):
        if environ.get(name):
            paths.append(os.path.dirname(environ[name]))
    return [p for p in dict.fromkeys(paths) if p]


def isolate(
    checkout: Path, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()
) -> AgentSpace:
    """The agent's space for `checkout`, with the harness's files closed to it when root."""
    space = agent_space(checkout, environ)
    if space.user is not None:
        lock_down(harness_paths(checkout, environ, extra))
    else:
        warn_once()
    return space
