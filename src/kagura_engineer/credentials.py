"""Where credentials would come from: named sources, never their values.

Shared by the agent (preflight, proxy, argv), doctor (checks) and setup (steps), so all agree
on what counts as logged in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ANTHROPIC_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
#: Cloud providers claude reaches with the cloud's own credentials (switch, name, the variables it reads).
#: kagura-engineer's model proxy (key isolation, cost cap) does not sit in front of them.
CLOUD_PROVIDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CLAUDE_CODE_USE_BEDROCK": ("Amazon Bedrock", (
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_CA_BUNDLE", "ANTHROPIC_BEDROCK_BASE_URL", "ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION",
        "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
    )),
    "CLAUDE_CODE_USE_VERTEX": ("Google Vertex AI", (
        "ANTHROPIC_VERTEX_PROJECT_ID", "CLOUD_ML_REGION", "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_CLOUD_QUOTA_PROJECT", "CLOUDSDK_CONFIG",
        "ANTHROPIC_VERTEX_BASE_URL", "CLAUDE_CODE_SKIP_VERTEX_AUTH",
    )),
}  # fmt: skip
#: Per-model region overrides claude reads for Vertex (VERTEX_REGION_CLAUDE_4_5_SONNET, ...).
VERTEX_REGION_PREFIX = "VERTEX_REGION_"
#: In the order the GitHub client (`GitHub.from_env`) and git's credential for origin
#: (`git.credential_env`) pick them.
GITHUB_TOKEN_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "INPUT_GITHUB_TOKEN")
#: How to give claude a credential (doctor's hint, setup's, and the preflight's).
AUTH_HINT = (
    "export ANTHROPIC_API_KEY=<key>, or `claude setup-token` then export CLAUDE_CODE_OAUTH_TOKEN=<token>, "
    "or log in once with `claude` (/login)"
)


@dataclass(frozen=True)
class Source:
    """A credential source by name (`ANTHROPIC_API_KEY`, `~/.claude/.credentials.json`, ...)."""

    name: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.note})" if self.note else self.name


def _set(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name)
    return bool(value and value.strip())


def _truthy(value: str | None) -> bool:
    """Claude Code's reading of a boolean variable."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def cloud_provider(env: Mapping[str, str] | None = None) -> str | None:
    """The switch (`CLAUDE_CODE_USE_BEDROCK` / `_VERTEX`) that sends claude to a cloud, or None."""
    env = os.environ if env is None else env
    return next((name for name in CLOUD_PROVIDERS if _truthy(env.get(name))), None)


def cloud_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables claude needs for the cloud provider that is switched on (empty when none)."""
    env = os.environ if env is None else env
    switch = cloud_provider(env)
    if switch is None:
        return {}
    names = (switch, *CLOUD_PROVIDERS[switch][1])
    out = {n: env[n] for n in names if env.get(n)}
    if switch == "CLAUDE_CODE_USE_VERTEX":
        out.update({n: v for n, v in env.items() if n.startswith(VERTEX_REGION_PREFIX) and v})
    return out


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _read_json(path: Path) -> object | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def claude_credentials_file(env: Mapping[str, str]) -> Path:
    """The subscription login file Claude Code writes (`CLAUDE_CONFIG_DIR` moves it)."""
    config_dir = env.get("CLAUDE_CONFIG_DIR")
    base = Path(config_dir).expanduser() if config_dir else _home(env) / ".claude"
    return base / ".credentials.json"


def anthropic_source(env: Mapping[str, str] | None = None) -> Source | None:
    """The first Anthropic auth source Claude Code would use, or None.

    Bedrock or Vertex switched on wins (claude then ignores the Anthropic credentials): the
    cloud's own credentials are checked by claude, not here.
    """
    env = os.environ if env is None else env
    switch = cloud_provider(env)
    if switch is not None:
        return Source(
            switch, f"{CLOUD_PROVIDERS[switch][0]}; no key isolation or cost cap by kagura-engineer's proxy"
        )
    for name in ANTHROPIC_ENV:
        if _set(env, name):
            return Source(name)
    path = claude_credentials_file(env)
    data = _read_json(path) if path.is_file() else None
    if isinstance(data, dict) and data:
        return Source(str(path), "subscription login")
    return None


def github_token_source(env: Mapping[str, str] | None = None) -> str | None:
    """The name of the GitHub token variable that is set, or None."""
    env = os.environ if env is None else env
    return next((n for n in GITHUB_TOKEN_ENV if _set(env, n)), None)


def kagura_credentials_file(env: Mapping[str, str]) -> Path:
    return _home(env) / ".kagura" / "credentials.json"


@dataclass(frozen=True)
class KaguraAuth:
    """Memory Cloud credential resolution: a source, or the reason there is none."""

    source: Source | None
    problem: str | None = None


def kagura_source(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> KaguraAuth:
    """Resolve like the kagura-memory SDK: KAGURA_API_KEY, the OAuth profile, legacy .kagura.json.

    A KAGURA_PROFILE naming a profile that does not exist is an error (the SDK does not fall
    back), reported as `problem`.
    """
    env = os.environ if env is None else env
    if _set(env, "KAGURA_API_KEY"):
        return KaguraAuth(Source("KAGURA_API_KEY"))
    path = kagura_credentials_file(env)
    if path.is_file():
        data = _read_json(path)
        if not isinstance(data, dict):
            return KaguraAuth(None, f"{path} is not valid JSON; run `kagura auth login` again")
        profiles = data.get("profiles") if isinstance(data.get("profiles"), dict) else {}
        wanted = (env.get("KAGURA_PROFILE") or "").strip() or data.get("default_profile") or "default"
        profile = profiles.get(wanted)
        if isinstance(profile, dict) and (profile.get("access_token") or profile.get("refresh_token")):
            return KaguraAuth(Source(f"{path}", f"profile '{wanted}'"))
        if _set(env, "KAGURA_PROFILE"):
            return KaguraAuth(None, f"KAGURA_PROFILE names profile '{wanted}', which {path} does not have")
    for legacy in ((cwd or Path.cwd()) / ".kagura.json", _home(env) / ".kagura.json"):
        data = _read_json(legacy) if legacy.is_file() else None
        if isinstance(data, dict) and str(data.get("api_key") or "").strip():
            return KaguraAuth(Source(str(legacy), "legacy api_key"))
    return KaguraAuth(None)
