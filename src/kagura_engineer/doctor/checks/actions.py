"""Action-mode pitfalls that need no GitHub API call: run only when GITHUB_ACTIONS=true.

- `push-triggers`: a push made with the workflow's GITHUB_TOKEN triggers no other workflow,
  so a PR kagura opens gets no CI run; that matters when repo.yaml has no `checks`. A GitHub
  App's installation token looks the same (`ghs_`) but does trigger them: a `bot_login` other
  than github-actions[bot] says the token is an App's.
- `dependabot`: Dependabot-triggered runs only see Dependabot secrets.
- `actions-cache`: the local memory DB travels between jobs through the Actions cache.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from kagura_engineer.credentials import GITHUB_TOKEN_ENV, anthropic_source
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, ok, skipped, warn

DEPENDABOT = "dependabot[bot]"


def _token(ctx: DoctorContext) -> tuple[str, str] | None:
    """The token the GitHub client will use, and the variable it comes from."""
    for name in GITHUB_TOKEN_ENV:
        value = ctx.var(name)
        if value:
            return name, value.strip()
    return None


def installation_token(ctx: DoctorContext) -> bool:
    """True for a `ghs_` token: the workflow's GITHUB_TOKEN (or a GitHub App installation token)."""
    token = _token(ctx)
    return bool(token and token[1].startswith("ghs_"))


#: Where the fix is shown: an example workflow and the docs section that explains it.
APP_TOKEN_EXAMPLE = "examples/workflows/github-app-token.yml"
APP_TOKEN_DOCS = "docs/github.md#pull-requests-that-run-your-ci"
WORKFLOW_BOT = "github-actions[bot]"


def check_push_triggers(ctx: DoctorContext) -> Outcome:
    token = _token(ctx)
    if token is None:
        return skipped("no GitHub token (see the github check)")
    name, value = token
    if not value.startswith("ghs_"):
        return ok(f"{name} is not an installation token: pushes and PRs it makes trigger workflows")
    bot = ctx.var("INPUT_BOT_LOGIN") or ctx.config.bot_login
    if bot and bot.strip() != WORKFLOW_BOT:
        return ok(f"{name} is {bot.strip()}'s installation token, not the workflow's: its PRs trigger CI")
    checks = ctx.config.checks
    if checks:
        return ok(f"{len(checks)} repo.yaml check(s) run inside the job; CI on kagura's PRs is not needed to gate them")
    return warn(
        f"{name} looks like the workflow GITHUB_TOKEN: PRs pushed with it trigger no `push`/`pull_request` "
        "workflows, and repo.yaml has no `checks`, so nothing verifies kagura's changes",
        f"pass a GitHub App token as `github_token` (with `bot_login: <app>[bot]`) so CI runs on kagura's PRs: "
        f'see {APP_TOKEN_EXAMPLE} and {APP_TOKEN_DOCS}; or add `checks: ["<your test command>"]` to repo.yaml',
    )


def check_dependabot(ctx: DoctorContext) -> Outcome:
    actor = ctx.env.get("GITHUB_TRIGGERING_ACTOR") or ctx.env.get("GITHUB_ACTOR") or ""
    if actor != DEPENDABOT:
        return skipped("not a Dependabot-triggered run")
    missing = []
    if anthropic_source(ctx.env) is None:
        missing.append("an Anthropic credential")
    if _token(ctx) is None:
        missing.append("a GitHub token")
    if not missing:
        return ok("Dependabot-triggered run with the secrets it needs")
    return warn(
        f"Dependabot-triggered run without {' and '.join(missing)}: these runs only get Dependabot secrets",
        "add the secrets under Settings → Secrets and variables → Dependabot, or skip these runs with "
        "`if: github.actor != 'dependabot[bot]'`",
    )


def check_actions_cache(ctx: DoctorContext) -> Outcome:
    import httpx

    if ctx.config.memory_backend != "local":
        return skipped("memory_backend is cloud: no memory DB to carry in the Actions cache")
    mode = (ctx.env.get("ACTIONS_CACHE_MODE") or "").strip().lower()
    if mode == "none":
        return skipped("ACTIONS_CACHE_MODE=none")
    url = ctx.var("ACTIONS_RESULTS_URL")
    if url is None or ctx.var("ACTIONS_RUNTIME_TOKEN") is None:
        return warn(
            "ACTIONS_RESULTS_URL/ACTIONS_RUNTIME_TOKEN are not set: the memory DB will not carry over to the next job",
            "run kagura-engineer as the container action (`uses: kagura-ai/kagura-engineer@v1`), or carry "
            f"{ctx.config.local_memory_path} with actions/cache",
        )
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}/"
    with ctx.http() as http:
        try:
            response = http.get(origin)  # no token: reachability only, any HTTP answer will do
        except httpx.HTTPError as exc:
            return warn(
                f"Actions cache service at {origin} unreachable ({type(exc).__name__}): the memory DB will not be restored or saved",
                "a transient runner problem: rerun the job; the run itself proceeds with the DB it has",
            )
    return ok(f"Actions cache service at {origin} reachable (HTTP {response.status_code})")
