"""The Ollama daemon's installed models, and the tag-aware match against `review.models`.

A configured name matches an installed one when (first rule that applies):

1. they are equal (`qwen2.5-coder:7b` = `qwen2.5-coder:7b`);
2. the configured name has no tag and the installed one is its `:latest`
   (`llama3` ↔ `llama3:latest`);
3. the configured name has a tag and the installed one extends that tag with `-…`
   (`qwen2.5-coder:7b` ↔ `qwen2.5-coder:7b-instruct`, `…:7b-instruct-q4_K_M`).

Nothing else matches: `qwen2.5-coder` does not match `qwen2.5-coder:7b` (an untagged name
means `:latest` to Ollama), and `qwen2.5` never matches `qwen2.5-coder:latest`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from kagura_engineer.errors import KaguraError

if TYPE_CHECKING:
    from kagura_engineer.http import HttpClient


class OllamaUnavailable(KaguraError):
    code = "ollama-unavailable"


def _norm(name: str) -> str:
    return name.strip().lower()


def model_matches(configured: str, installed: str) -> bool:
    """True when the installed model satisfies the configured name (rules in the module doc)."""
    want, have = _norm(configured), _norm(installed)
    if not want or not have:
        return False
    if want == have:
        return True
    if ":" not in want:
        return have == f"{want}:latest"
    return have.startswith(f"{want}-")


def find_installed(configured: str, installed: Iterable[str]) -> str | None:
    """The installed name satisfying `configured` (an exact match preferred), or None."""
    names = list(installed)
    exact = next((n for n in names if _norm(n) == _norm(configured)), None)
    return exact or next((n for n in names if model_matches(configured, n)), None)


def missing_models(configured: Sequence[str], installed: Iterable[str]) -> list[str]:
    names = list(installed)
    return [m for m in configured if find_installed(m, names) is None]


def list_models(http: HttpClient, base_url: str) -> list[str]:
    """GET <base_url>/api/tags → installed model names; OllamaUnavailable when it cannot answer."""
    import httpx

    url = f"{base_url.rstrip('/')}/api/tags"
    try:
        response = http.get(url)
    except httpx.HTTPError as exc:
        raise OllamaUnavailable(f"no Ollama daemon at {base_url}: {_why(exc)}") from None
    if response.status_code != 200:
        raise OllamaUnavailable(f"{url} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise OllamaUnavailable(f"{url} did not answer JSON (is this an Ollama daemon?)") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        raise OllamaUnavailable(f"{url} answered without a 'models' list (is this an Ollama daemon?)")
    names = []
    for item in models:
        if isinstance(item, dict):
            name = item.get("name") or item.get("model")
            if isinstance(name, str) and name:
                names.append(name)
    return names


def _why(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
