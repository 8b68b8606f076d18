"""Throwaway repositories: each run of an evaluation gets a harness repo and an origin of its own.

    seed.git    a bare repository holding the base branch as the real origin has it (fetched
                once per evaluation; then its remote is removed: nothing here points back)
    <run>/origin.git   a bare clone of the seed: the run's `origin`, where its work is pushed
    <run>/repo         a clone of that origin (no checkout): the harness repository of the run

The run's agent clone and agent space hang off its harness repo (`agent/user.py`), so two
arms never share a file; the whole `<run>` folder (and, as root, the agent's space) is
removed when the run is done. Nothing is ever pushed to the real origin, and the user's
checkout is only read (its origin URL).
"""

from __future__ import annotations

from pathlib import Path

from kagura_engineer.agent.clone import remove_tree
from kagura_engineer.git import Git


def make_seed(checkout: Git, workdir: Path, base: str) -> Path:
    """`workdir/seed.git` holding origin's `base` (fresh each evaluation); its path."""
    seed = workdir / "seed.git"
    remove_tree(seed)
    seed.parent.mkdir(parents=True, exist_ok=True)
    Git(seed.parent).run("init", "--quiet", "--bare", "-b", base, str(seed))
    git = Git(seed)
    # named `origin` only while fetching, so the push/fetch credential applies to its URL
    git.run("remote", "add", "origin", checkout.origin_url())
    try:
        git.run("fetch", "--quiet", "--no-tags", "origin", f"+refs/heads/{base}:refs/heads/{base}")
    finally:
        git.run("remote", "remove", "origin", check=False)
    return seed


def make_harness(seed: Path, run_dir: Path) -> Git:
    """A fresh `run_dir` with `origin.git` (a copy of the seed) and `repo` (its clone)."""
    remove_tree(run_dir)
    run_dir.mkdir(parents=True)
    here = Git(run_dir)
    origin, repo = run_dir / "origin.git", run_dir / "repo"
    here.run("clone", "--quiet", "--bare", "--no-hardlinks", str(seed), str(origin))
    here.run("clone", "--quiet", "--no-checkout", str(origin), str(repo))
    return Git(repo)


def discard(run_dir: Path, space: object = None) -> None:
    """Remove a run's folder and, when the agent has an account of its own, its space."""
    remove_tree(run_dir)
    base = getattr(space, "base", None)
    if base is not None and getattr(space, "user", None) is not None:
        remove_tree(Path(base))
