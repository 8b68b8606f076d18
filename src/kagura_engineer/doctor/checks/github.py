"""Action-mode GitHub checks, through the one GitHub client (`github.client.GitHub`).

- `github`: token present, repository reachable, token may write contents, issues and PRs.
- `trigger-label`: the label that triggers kagura (input `label`, default `kagura`) exists.
- `branch-protection`: required status checks on the base that a GITHUB_TOKEN push never
  starts (so kagura's PRs would wait forever).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kagura_engineer.doctor.checks.actions import installation_token
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok, skipped, warn
from kagura_engineer.errors import GitHubError, KaguraError, NotFound, PermissionDenied

if TYPE_CHECKING:
    from kagura_engineer.github.client import GitHub

PERMISSIONS_YAML = "permissions: {contents: write, issues: write, pull-requests: write}"
DEFAULT_LABEL = "kagura"


def connect(ctx: DoctorContext) -> GitHub:
    """The GitHub client with doctor's short retry budget (raises NeedsUserError/ConfigError)."""
    from kagura_engineer.github.client import GitHub
    from kagura_engineer.github.failures import RetryPolicy

    policy = RetryPolicy(
        attempts=2, total_seconds=6.0, max_wait=3.0, base_delay=0.3, max_delay=1.0, rate_limit_floor=3.0
    )
    return GitHub.from_env(ctx.env, timeout=ctx.http_timeout + 2, policy=policy)


def check(ctx: DoctorContext) -> Outcome:
    try:
        gh = connect(ctx)
    except KaguraError as exc:
        return fail(exc.message, exc.hint)
    try:
        repo = gh.get_repo()
    except NotFound:
        return fail(
            f"repository {gh.full_name} not found at {gh.api_url} (or not visible to this token)",
            "check GITHUB_REPOSITORY and that the token has access to it",
        )
    except GitHubError as exc:
        return fail(f"repository {gh.full_name} not reachable: {exc.message}", exc.hint)
    perms = repo.get("permissions") if isinstance(repo, dict) else None
    if not isinstance(perms, dict):
        return warn(
            f"{gh.full_name} reachable; GitHub did not report this token's permissions (a workflow GITHUB_TOKEN does not)",
            f"make sure the workflow grants `{PERMISSIONS_YAML}`",
        )
    granted = [p for p in ("admin", "maintain", "push", "triage", "pull") if perms.get(p)]
    if perms.get("push") or perms.get("maintain") or perms.get("admin"):
        return ok(f"{gh.full_name} reachable; token can write contents, issues and pull requests ({', '.join(granted)})")
    return fail(
        f"{gh.full_name} reachable, but the token cannot push (it has: {', '.join(granted) or 'nothing'})",
        f"grant `{PERMISSIONS_YAML}` in the workflow, or use a token with write access",
    )


def check_trigger_label(ctx: DoctorContext) -> Outcome:
    label = (ctx.env.get("INPUT_LABEL") or "").strip() or DEFAULT_LABEL
    try:
        gh = connect(ctx)
        found = gh.get_label(label)
    except (NotFound, PermissionDenied) as exc:
        return warn(f"could not read label '{label}': {exc.message}", None)
    except KaguraError as exc:
        return skipped(f"GitHub not usable: {exc.message.split(':')[0]} (see the github check)")
    if found is None:
        return warn(
            f"label '{label}' does not exist in {gh.full_name}: nobody can apply it to trigger kagura",
            f'gh label create {label} --repo {gh.full_name} --description "kagura-engineer: work on this issue"',
        )
    return ok(f"trigger label '{label}' exists in {gh.full_name}")


def check_branch_protection(ctx: DoctorContext) -> Outcome:
    try:
        gh = connect(ctx)
        base = ctx.config.base_branch or str(gh.get_repo().get("default_branch") or "main")
    except KaguraError as exc:
        return skipped(f"GitHub not usable: {exc.message.split(':')[0]} (see the github check)")
    try:
        protection = gh.get_branch_protection(base)
    except PermissionDenied:
        return skipped(f"this token may not read the protection of '{base}' (needs administration: read)")
    except GitHubError as exc:
        return skipped(f"could not read the protection of '{base}': {exc.message}")
    if not protection:
        return ok(f"base branch '{base}' is not protected")
    required = _required_checks(protection)
    reviews = (protection.get("required_pull_request_reviews") or {}).get("required_approving_review_count")
    summary = f"base branch '{base}' is protected" + (f" ({reviews} approving review(s) required)" if reviews else "")
    if required and installation_token(ctx):
        return warn(
            f"{summary}; required checks {', '.join(required)} never start on PRs pushed with the workflow "
            "GITHUB_TOKEN, so kagura's PRs stay blocked",
            "pass a GitHub App or fine-grained token as `github_token` (its pushes trigger CI), "
            "or re-run the checks on the PR by hand",
        )
    return ok(summary + (f"; required checks: {', '.join(required)}" if required else ""))


def _required_checks(protection: dict) -> list[str]:
    rsc = protection.get("required_status_checks") or {}
    names = list(rsc.get("contexts") or [])
    for item in rsc.get("checks") or []:
        ctx_name = item.get("context") if isinstance(item, dict) else None
        if ctx_name and ctx_name not in names:
            names.append(ctx_name)
    return names
