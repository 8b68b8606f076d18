"""Git for every command: the checkout, the base, the branch on origin, a worktree, commit, push.

Every operation asks the world first (what origin has, what the worktree holds), so a
re-run after kill -9 repairs instead of duplicating: a half-made worktree is pruned and
re-added, a branch already on origin is continued from there, a commit already pushed is
not pushed again.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kagura_engineer import proc
from kagura_engineer.credentials import GITHUB_TOKEN_ENV
from kagura_engineer.errors import ConfigError, KaguraError

#: Used only when the repository has no identity configured (e.g. a fresh CI container).
DEFAULT_IDENTITY = {
    "GIT_AUTHOR_NAME": "kagura-engineer[bot]",
    "GIT_AUTHOR_EMAIL": "kagura-engineer[bot]@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "kagura-engineer[bot]",
    "GIT_COMMITTER_EMAIL": "kagura-engineer[bot]@users.noreply.github.com",
}
_GIT_PASSTHROUGH = (
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    "GIT_CONFIG_NOSYSTEM", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_AUTH_SOCK",
)  # fmt: skip
#: Every git the harness runs: no fsmonitor or hook can run code a repository configured, no
#: external diff or textconv, and objects received are checked (no `.git` paths, bad links).
HARDENED = (
    "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "diff.external=",
    "-c", "transfer.fsckObjects=true", "-c", "protocol.ext.allow=never",
    # a job's checkout is thrown away: no `git maintenance run --auto` after each fetch or commit
    "-c", "maintenance.auto=false",
)  # fmt: skip
#: Commands that talk to origin: only these get the push/fetch credential in their environment.
_NETWORK = frozenset({"fetch", "push", "ls-remote"})


def inherited_config(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """The GIT_CONFIG_COUNT/KEY_n/VALUE_n pairs already in the environment (e.g. safe.directory)."""
    try:
        count = int(environ.get("GIT_CONFIG_COUNT") or 0)
    except ValueError:
        return []
    pairs = [(environ.get(f"GIT_CONFIG_KEY_{i}"), environ.get(f"GIT_CONFIG_VALUE_{i}")) for i in range(count)]
    return [(k, v or "") for k, v in pairs if k]


def config_env(pairs: list[tuple[str, str]]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for i, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return env


def credential_env(url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that lets one git process authenticate to `url`'s host with the token.

    An `http.<scheme>://<host>/.extraheader` given through GIT_CONFIG_* (never argv, which any
    user can read in /proc/PID/cmdline; never a file): an empty value first resets a header
    `actions/checkout` may have persisted, so exactly one Authorization header is sent.
    """
    environ = os.environ if environ is None else environ
    pairs = inherited_config(environ)
    token = next((environ[n].strip() for n in GITHUB_TOKEN_ENV if (environ.get(n) or "").strip()), "")
    match = re.match(r"^(https?://)(?:[^@/]*@)?([^/]+)/", url)
    if token and match:
        from kagura_engineer import proc

        prefix = f"{match.group(1)}{match.group(2)}/"
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        proc.register_secret(basic)
        pairs += [(f"http.{prefix}.extraheader", ""), (f"http.{prefix}.extraheader", f"AUTHORIZATION: basic {basic}")]
    return config_env(pairs) if pairs else {}


class GitError(KaguraError):
    code = "git"


def _failure(command: str, result: proc.Result) -> str:
    """`git <command> failed: <git's whole message>` (redacted; lines joined, capped)."""
    lines = [line.strip() for line in result.tail(1200).splitlines() if line.strip()]
    message = " ".join(lines) if lines else f"exit {result.returncode}"
    return f"git {command} failed: {message[:600]}"


def _hint(command: str, result: proc.Result) -> str | None:
    text = (result.stderr or "").lower()
    if "'origin' does not appear to be a git repository" in text or "no such remote" in text:
        return "this checkout has no `origin` remote: work from a clone of the GitHub repository (git remote -v)"
    if "could not read from remote repository" in text or "authentication failed" in text:
        return "check the token's access to the repository (contents: write for pushes)"
    return None


def slugify(title: str, limit: int = 40) -> str:
    """A branch-safe slug of an issue title: ascii, lower-case, dashes."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:limit].rstrip("-") or "issue"


def branch_name(prefix: str, number: int, title: str) -> str:
    return f"{prefix}{number}-{slugify(title)}"


@dataclass
class Git:
    """git in the harness's own repository (the checkout), hardened, through proc.

    Never pointed at a repository the agent user can write: the agent's work comes out of its
    clone over the pack protocol (`agent/clone.py`).
    """

    cwd: Path
    timeout: float = 300.0
    _ident: dict[str, str] | None = field(default=None, repr=False, compare=False)
    _origin: str | None = field(default=None, repr=False, compare=False)

    def run(self, *args: str, check: bool = True, timeout: float | None = None) -> proc.Result:
        env = dict(self._identity())
        if args and args[0] in _NETWORK:
            env.update(self._credential())
        else:
            env.update(config_env(inherited_config(os.environ)) if inherited_config(os.environ) else {})
        result = proc.run(
            ["git", *HARDENED, "-c", f"safe.directory={os.path.realpath(self.cwd)}", *args], cwd=self.cwd,
            timeout=timeout or self.timeout, passthrough=_GIT_PASSTHROUGH, env=env,
        )  # fmt: skip
        if check and not result.ok:
            raise GitError(_failure(args[0], result), hint=_hint(args[0], result))
        return result

    def _credential(self) -> dict[str, str]:
        if self._origin is None:  # asked once per checkout, not before every network git
            probe = proc.run(["git", "config", "--get", "remote.origin.url"], cwd=self.cwd, timeout=30)
            self._origin = probe.stdout.strip() if probe.ok else ""
        return credential_env(self._origin) if self._origin else {}

    def _identity(self) -> dict[str, str]:
        if self._ident is None:
            if os.environ.get("GIT_AUTHOR_EMAIL"):
                self._ident = {}
            else:
                probe = proc.run(["git", "config", "user.email"], cwd=self.cwd, timeout=30)
                self._ident = {} if probe.ok and probe.stdout.strip() else dict(DEFAULT_IDENTITY)
        return self._ident

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    # -- queries ---------------------------------------------------------------------
    def toplevel(self) -> Path:
        return Path(self.out("rev-parse", "--show-toplevel"))

    def head(self) -> str:
        return self.out("rev-parse", "HEAD")

    def remote_sha(self, branch: str) -> str | None:
        """The SHA of refs/heads/<branch> on origin, asking origin itself."""
        out = self.out("ls-remote", "--heads", "origin", f"refs/heads/{branch}")
        return out.split()[0] if out else None

    def default_branch(self) -> str:
        """origin's HEAD branch (asks origin; falls back to main)."""
        result = self.run("ls-remote", "--symref", "origin", "HEAD", check=False)
        match = re.search(r"ref: refs/heads/(\S+)\s+HEAD", result.stdout)
        return match.group(1) if match else "main"

    def dirty(self) -> bool:
        return bool(self.out("status", "--porcelain"))

    def origin_url(self) -> str:
        return self.out("remote", "get-url", "origin")

    # -- actions ---------------------------------------------------------------------
    def fetch(self, *branches: str) -> None:
        refspecs = [f"+refs/heads/{b}:refs/remotes/origin/{b}" for b in branches]
        self.run("fetch", "--quiet", "--no-tags", "origin", *refspecs)

    def exclude(self, pattern: str) -> None:
        """Add `pattern` to .git/info/exclude once (keeps .kagura/ out of every commit)."""
        info = Path(self.out("rev-parse", "--git-common-dir"))
        if not info.is_absolute():
            info = self.cwd / info
        exclude = info / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        if pattern not in lines:
            with exclude.open("a") as fh:
                fh.write(("\n" if lines and lines[-1] else "") + pattern + "\n")

    def worktree(self, path: Path, branch: str, start: str) -> Git:
        """A worktree at `path` on `branch`, created from `start` unless it already is there.

        A half-made worktree (killed mid-add) is pruned and made again.
        """
        self.run("worktree", "prune")
        if path.exists():
            tree = Git(path, self.timeout)
            probe = proc.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=path, timeout=30)
            if probe.ok and probe.stdout.strip() == branch:
                return tree
            self.run("worktree", "remove", "--force", str(path), check=False)
            shutil.rmtree(path, ignore_errors=True)
            self.run("worktree", "prune")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.run("worktree", "add", "--quiet", "-B", branch, str(path), start)
        return Git(path, self.timeout)

    def commit_all(self, message: str) -> bool:
        """Stage everything and commit; False when there was nothing to commit."""
        self.run("add", "-A")
        if not self.run("diff", "--cached", "--quiet", check=False).returncode:
            return False
        self.run("commit", "--quiet", "--no-verify", "-m", message)
        return True

    def push(self, branch: str) -> str:
        """Push HEAD to origin/<branch> unless origin already has it; returns the SHA."""
        sha = self.head()
        if self.remote_sha(branch) != sha:
            self.run("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return sha

    def commits_since(self, base: str) -> int:
        return int(self.out("rev-list", "--count", f"{base}..HEAD") or 0)


_GITHUB_URL = re.compile(r"[:/](?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def repository_from_origin(git: Git) -> str | None:
    """`owner/repo` parsed from origin's URL (https or ssh form), else None."""
    try:
        url = git.origin_url()
    except GitError:
        return None
    if "://" not in url and not re.match(r"^[\w.-]+@[\w.-]+:", url):
        return None  # a local path, not a GitHub remote
    match = _GITHUB_URL.search(url)
    return f"{match['owner']}/{match['repo']}" if match else None


def github_repository(repo: Git | None, environ: Mapping[str, str] | None = None) -> str:
    """`owner/repo` of the job: GITHUB_REPOSITORY, else the checkout's GitHub origin; else a ConfigError."""
    from kagura_engineer.errors import ConfigError

    environ = os.environ if environ is None else environ
    repository = environ.get("GITHUB_REPOSITORY") or (repository_from_origin(repo) if repo else None)
    if not repository:
        raise ConfigError(
            "cannot tell which GitHub repository this is",
            hint="set GITHUB_REPOSITORY=owner/repo or give the checkout a GitHub origin",
        )
    return repository


def checkout_root(cwd: Path | None = None) -> Git:
    here = Git(cwd or Path.cwd())
    try:
        return Git(here.toplevel())
    except GitError:
        raise ConfigError(
            "not inside a git checkout", hint="run from your repository's working tree (its origin is pushed to)"
        ) from None
