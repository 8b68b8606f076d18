"""Git for the run loop: the base, the branch on origin, an isolated worktree, commit, push.

Every operation asks the world first (what origin has, what the worktree holds), so a
re-run after kill -9 repairs instead of duplicating: a half-made worktree is pruned and
re-added, a branch already on origin is continued from there, a commit already pushed is
not pushed again.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kagura_engineer import proc
from kagura_engineer.errors import KaguraError

#: Used only when the repository has no identity configured (e.g. a fresh CI container).
DEFAULT_IDENTITY = {
    "GIT_AUTHOR_NAME": "kagura-engineer[bot]",
    "GIT_AUTHOR_EMAIL": "kagura-engineer[bot]@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "kagura-engineer[bot]",
    "GIT_COMMITTER_EMAIL": "kagura-engineer[bot]@users.noreply.github.com",
}
_GIT_PASSTHROUGH = (
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_NOSYSTEM",
    "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_AUTH_SOCK",
)  # fmt: skip


class GitError(KaguraError):
    code = "git"


def slugify(title: str, limit: int = 40) -> str:
    """A branch-safe slug of an issue title: ascii, lower-case, dashes."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:limit].rstrip("-") or "issue"


def branch_name(prefix: str, number: int, title: str) -> str:
    return f"{prefix}{number}-{slugify(title)}"


@dataclass
class Git:
    """git in one directory (the main checkout or a worktree), through proc."""

    cwd: Path
    timeout: float = 300.0

    def run(self, *args: str, check: bool = True, timeout: float | None = None) -> proc.Result:
        result = proc.run(
            ["git", *args], cwd=self.cwd, timeout=timeout or self.timeout, passthrough=_GIT_PASSTHROUGH,
            env=self._identity(),
        )  # fmt: skip
        if check and not result.ok:
            tail = result.tail(400).splitlines()
            raise GitError(f"git {args[0]} failed: {tail[-1] if tail else f'exit {result.returncode}'}")
        return result

    def _identity(self) -> dict[str, str]:
        import os

        if os.environ.get("GIT_AUTHOR_EMAIL"):
            return {}
        probe = proc.run(["git", "config", "user.email"], cwd=self.cwd, timeout=30)
        return {} if probe.ok and probe.stdout.strip() else DEFAULT_IDENTITY

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
