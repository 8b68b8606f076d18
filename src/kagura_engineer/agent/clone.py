"""The agent's own clone: where claude and the checks work, holding nothing worth stealing.

The harness makes the clone (as root, from its own repository, before the agent exists),
then hands it to the agent user: no remote, no credential, no hooks of ours, and a `.git`
the agent may configure as it likes, because the harness never runs git inside it again.
The agent's work comes back over the pack protocol: the harness's `git fetch file://<clone>`
talks to a `git upload-pack` that runs *as the agent user* (`setpriv`), so no git process of
the harness reads a config, hook or fsmonitor the agent wrote; received objects are fsck'd.
Committing what the agent left uncommitted also runs as the agent user.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from kagura_engineer import proc
from kagura_engineer.git import DEFAULT_IDENTITY, HARDENED, Git, GitError

#: Hardening also used for the agent-user gits the harness starts (they run the agent's config
#: as the agent's own uid, which is harmless, but hooks or fsmonitor would only slow them down).
_AGENT_GIT = (
    "git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "maintenance.auto=false",
)  # fmt: skip
_IDENTITY = tuple(DEFAULT_IDENTITY)


class AgentClone:
    """The clone at `path` on `branch`; `ref` names where its HEAD lands in the harness repo."""

    def __init__(
        self,
        harness: Git,
        path: Path,
        branch: str,
        user: proc.Identity | None,
        ref: str,
        space: object = None,
    ) -> None:
        self.harness, self.path, self.branch, self.user, self.ref = harness, path, branch, user, ref
        self.space = space  # agent.user.AgentSpace: lets the driver run claude as `user`
        self._head: str | None = None
        self._collected: str | None = None  # the SHA the last fetch brought into the harness repo
        self._on_origin: str | None = None  # the SHA origin's branch was last seen at (or pushed)

    @classmethod
    def in_space(cls, harness: Git, space: object, job: str, branch: str) -> AgentClone:
        """The clone for `job` (e.g. `issue-7`, `review-pr-3`) in an agent space."""
        path = space.clone_path(job)  # type: ignore[attr-defined]
        return cls(harness, path, branch, space.user, f"refs/kagura/agent/{job}", space)  # type: ignore[attr-defined]

    @property
    def cwd(self) -> Path:
        return self.path

    def exists(self) -> bool:
        return (self.path / ".git" / "HEAD").is_file()

    # -- making it ---------------------------------------------------------------------
    def create(self, start: str, prepare: object = None, also: tuple[str, ...] = ()) -> None:
        """A fresh clone at commit `start` on `branch` (whatever was at `path` is removed).

        `also`: more commits the clone must hold (e.g. a review's base, for its diff), kept
        under `refs/kagura/also/<n>`. `prepare(clone_path)`, when given, runs while the clone
        is still the harness's (before the hand-over): e.g. to restore files from a base.
        """
        remove_tree(self.path)
        self._collected = None
        self.path.mkdir(parents=True)
        seeds = [f"refs/kagura/seed/{self.path.name}/{i}" for i in range(1 + len(also))]
        for ref, sha in zip(seeds, (start, *also), strict=True):
            self.harness.run("update-ref", ref, sha)
        wanted = [f"{seeds[0]}:refs/heads/{self.branch}"] + [
            f"{r}:refs/kagura/also/{i}" for i, r in enumerate(seeds[1:])
        ]
        try:
            local = ["git", *HARDENED, "-c", f"safe.directory={self.path}"]
            self._root_git(local + ["init", "--quiet", "-b", self.branch, str(self.path)])
            # upload-pack checks the ownership of the git dir itself (`<checkout>/.git`), too
            here = str(self.harness.cwd)
            upload = (f"git -c safe.directory={shlex.quote(here)} "
                      f"-c safe.directory={shlex.quote(os.path.join(here, '.git'))} upload-pack")  # fmt: skip
            self._root_git(local + ["-C", str(self.path), "fetch", "--quiet", "--no-tags", "--update-head-ok",
                                    f"--upload-pack={upload}", f"file://{self.harness.cwd}", *wanted])  # fmt: skip
            self._root_git(local + ["-C", str(self.path), "reset", "--quiet", "--hard", self.branch])
            if callable(prepare):
                prepare(self.path)
        finally:
            for ref in seeds:
                self.harness.run("update-ref", "-d", ref, check=False)
        if self.user is not None:
            chown_tree(self.path, self.user.uid, self.user.gid)
        self._head = start

    def _root_git(self, argv: list[str]) -> None:
        result = proc.run(argv, timeout=600, env=_identity_env(), passthrough=_IDENTITY)
        if not result.ok:
            tail = result.tail(400).splitlines()
            raise GitError(f"preparing the agent's clone failed: {tail[-1] if tail else result.returncode}")

    # -- the agent's side (as the agent user) --------------------------------------------
    def agent_git(self, *args: str, input: str | None = None, timeout: float = 300) -> proc.Result:
        """git inside the clone, run as the agent user (its repository, its config)."""
        return proc.run(
            [*_AGENT_GIT, *args], cwd=self.path, timeout=timeout, user=self.user, env=_identity_env(),
            passthrough=_IDENTITY, input=input,
        )  # fmt: skip

    def run(self, *args: str, check: bool = True, input: str | None = None) -> proc.Result:
        """`agent_git`, raising GitError on failure when `check`."""
        result = self.agent_git(*args, input=input)
        if check and not result.ok:
            raise GitError(f"git {args[0]} in the agent's clone failed: {result.tail(300)}")
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def dirty(self) -> bool:
        result = self.agent_git("status", "--porcelain")
        return bool(result.stdout.strip()) if result.ok else True

    def commit_all(self, message: str) -> bool:
        """Stage and commit what the agent left (as the agent user); False when nothing was left."""
        add = self.agent_git("add", "-A")
        if not add.ok:
            raise GitError(f"git add in the agent's clone failed: {add.tail(300)}")
        if self.agent_git("diff", "--cached", "--quiet").returncode == 0:
            return False
        commit = self.agent_git("commit", "--quiet", "--no-verify", "-F", "-", input=message)
        if not commit.ok:
            raise GitError(f"git commit in the agent's clone failed: {commit.tail(300)}")
        return True

    # -- the harness's side ---------------------------------------------------------------
    def collect(self) -> str:
        """Fetch the clone's HEAD into the harness repo at `ref` (pack protocol); its SHA.

        When the clone's HEAD (asked of the agent's git, as the agent user) is the commit the
        last fetch brought, nothing is fetched. Trusting that answer is safe: a lie can only
        make the harness keep an older commit of the agent's, never take in objects unchecked.
        """
        if self._collected is not None:
            said = self.agent_git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", timeout=60)
            if said.ok and said.stdout.strip() == self._collected:
                self._head = self._collected
                return self._collected
        upload = "git upload-pack"
        if self.user is not None:
            upload = " ".join(
                ["setpriv", f"--reuid={self.user.uid}", f"--regid={self.user.gid}", "--clear-groups", "env",
                 f"HOME={shlex.quote(self.user.home)}", "git", "upload-pack"]
            )  # fmt: skip
        self.harness.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", f"--upload-pack={upload}",
                         f"file://{self.path}", f"+HEAD:{self.ref}")  # fmt: skip
        self._head = self._collected = self.harness.out("rev-parse", "--verify", f"{self.ref}^{{commit}}")
        return self._head

    def head(self) -> str:
        return self.collect()

    def commits_since(self, base: str, head: str | None = None) -> int:
        """Commits from `base` to `head` (a SHA already collected), else to the clone's HEAD now."""
        return int(self.harness.out("rev-list", "--count", f"{base}..{head or self.collect()}") or 0)

    def remote_sha(self, branch: str) -> str | None:
        """origin's SHA for `branch`, asking origin (and remembering it for `push`)."""
        self._on_origin = sha = self.harness.remote_sha(branch)
        return sha

    def push(self, branch: str) -> str:
        """Push the collected HEAD to origin/<branch> from the harness repo unless it is there.

        "There" is what this process last saw on origin or pushed itself; otherwise origin is asked.
        """
        sha = self.collect()
        if sha != self._on_origin and self.harness.remote_sha(branch) != sha:
            self.harness.run("push", "--quiet", "--no-verify", "origin", f"{sha}:refs/heads/{branch}")
        self._on_origin = sha
        return sha


def _identity_env() -> dict[str, str]:
    if os.environ.get("GIT_AUTHOR_EMAIL"):
        return {}
    return dict(DEFAULT_IDENTITY)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Hand `path` and everything under it to uid:gid, never following a symlink."""
    os.chown(path, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def remove_tree(path: Path) -> None:
    """Remove a clone, whoever owns its files (root removes anything; links are not followed)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
