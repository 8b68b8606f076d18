"""What a failed GitHub call means: classified once, then retried or translated.

ghapi 2.x raises `fasttransport.errors.APIError` (HTTP status in `.status_code`, the
`httpx2` response in `.response`, network failures with `status_code=None`); raw transport
calls raise `httpx2.HTTPStatusError` / `httpx2.RequestError`. `classify` turns any of them
into a `Failure` with a kind that decides the retry:

- `rate-limit`: 429, or 403 with `retry-after`, `x-ratelimit-remaining: 0` or a rate-limit
  message. GitHub rejected the request without acting on it, so it is always safe to retry.
- `unsent`: the connection could not be opened; nothing reached GitHub; always retried.
- `server` (5xx) and `network` (timeouts, dropped connections): the request may have taken
  effect, so only idempotent calls are retried blindly; creations reconcile first.
- `client`: any other 4xx; never retried.

`to_error` translates a final failure into the `kagura_engineer.errors` tree, with the raw
exception chained as the cause and every message redacted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kagura_engineer.errors import GitHubError, NotFound, PermissionDenied, Transient
from kagura_engineer.proc import redact

RATE_LIMIT = "rate-limit"
UNSENT = "unsent"
SERVER = "server"
NETWORK = "network"
CLIENT = "client"

PERMISSIONS_HINT = (
    "give the workflow token what kagura-engineer needs, e.g. "
    "`permissions: {contents: write, issues: write, pull-requests: write}`"
)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for one GitHub call: attempts, total waiting, and the waits themselves."""

    attempts: int = 5
    total_seconds: float = 900.0  # cap on the time one call may spend waiting to retry
    max_wait: float = 600.0  # a single requested wait longer than this gives up at once
    base_delay: float = 1.0  # 5xx / network: 1, 2, 4, 8 ... seconds
    max_delay: float = 30.0
    rate_limit_floor: float = 60.0  # rate limited without a hint: 60, 120, 240 ... seconds


class Failure(Exception):
    """One failed attempt, classified. Internal: callers only ever see `GitHubError`s."""

    def __init__(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        status: int | None = None,
        message: str = "",
        errors: list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(f"{kind} {status}")
        self.kind = kind
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.cause = cause
        self.attempts = 1
        self.gave_up_wait: float | None = None  # set when the next wait exceeded the policy

    def retryable(self, idempotent: bool) -> bool:
        if self.kind in (RATE_LIMIT, UNSENT):
            return True
        return idempotent and self.kind in (SERVER, NETWORK)

    @property
    def already_exists(self) -> bool:
        """A 422 whose errors say the resource exists (GitHub's duplicate-PR answer)."""
        return self.status == 422 and "already exists" in self.detail().lower()

    def detail(self) -> str:
        parts = [self.message] if self.message else []
        for err in self.errors:
            if isinstance(err, Mapping):
                text = err.get("message") or " ".join(
                    str(err[k]) for k in ("resource", "field", "code") if err.get(k)
                )
            else:
                text = str(err)
            if text:
                parts.append(text)
        return redact("; ".join(parts))


def _message_and_errors(raw: Any, fallback: str) -> tuple[str, list[Any]]:
    if isinstance(raw, Mapping):
        errors = raw.get("errors")
        return str(raw.get("message") or fallback), errors if isinstance(errors, list) else []
    if isinstance(raw, str) and raw.strip():
        return raw.strip()[:300], []
    return fallback, []


def _status_kind(status: int, headers: Mapping[str, str], message: str) -> str:
    lowered = message.lower()
    if status == 429:
        return RATE_LIMIT
    if status == 403 and (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in lowered
        or "abuse" in lowered
    ):
        return RATE_LIMIT
    if status >= 500 and status != 501:
        return SERVER
    return CLIENT


def scrub(exc: BaseException | None) -> None:
    """Redact secrets from an exception chain in place (the cause we chain is shown in logs)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if hasattr(exc, "message") and isinstance(exc.message, str):
            try:
                exc.message = redact(exc.message)
            except AttributeError:
                pass
        raw = getattr(exc, "raw", None)
        if raw is not None and not isinstance(raw, BaseException):
            try:
                text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
                exc.raw = redact(text)
            except (AttributeError, TypeError, ValueError):
                pass
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        exc = exc.__cause__ or exc.__context__


def classify(exc: BaseException, method: str, path: str) -> Failure:
    """Turn a ghapi / httpx2 exception into a `Failure`; anything else is re-raised."""
    import httpx2
    from fasttransport.errors import APIError

    response = None
    raw: Any = None
    transport_exc: BaseException | None = None
    if isinstance(exc, APIError):
        if exc.status_code is None:
            transport_exc = exc.raw if isinstance(exc.raw, BaseException) else exc
        else:
            response, raw = exc.response, exc.raw
    elif isinstance(exc, httpx2.HTTPStatusError):
        response = exc.response
        try:
            raw = response.json()
        except ValueError:
            raw = response.text
    elif isinstance(exc, httpx2.RequestError):
        transport_exc = exc
    else:
        raise exc
    scrub(exc)
    if response is None:
        unsent = isinstance(transport_exc, (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout))
        name = type(transport_exc).__name__ if transport_exc is not None else "network error"
        return Failure(UNSENT if unsent else NETWORK, method, path, message=redact(name), cause=exc)
    headers = {k.lower(): v for k, v in response.headers.items()}
    status = response.status_code
    message, errors = _message_and_errors(raw, response.reason_phrase or f"HTTP {status}")
    return Failure(
        _status_kind(status, headers, message),
        method,
        path,
        status=status,
        message=redact(message),
        errors=errors,
        headers=headers,
        cause=exc,
    )


def wait_seconds(failure: Failure, attempt: int, policy: RetryPolicy, now: float | None = None) -> float:
    """How long to wait before attempt `attempt + 1`, per GitHub's rate-limit guidance."""
    if failure.kind == RATE_LIMIT:
        from kagura_engineer.http import parse_retry_after

        retry_after = parse_retry_after(failure.headers.get("retry-after"), now=now)
        if retry_after is not None:
            return retry_after
        reset = failure.headers.get("x-ratelimit-reset")
        if failure.headers.get("x-ratelimit-remaining") == "0" and reset:
            try:
                return max(0.0, float(reset) - (time.time() if now is None else now)) + 1.0
            except ValueError:
                pass
        return policy.rate_limit_floor * 2 ** (attempt - 1)
    return min(policy.base_delay * 2 ** (attempt - 1), policy.max_delay)


def to_error(failure: Failure) -> GitHubError:
    """The one translation into `kagura_engineer.errors` (messages redacted).

    The error carries `kind` (rate-limit|unsent|server|network|client) for callers that
    reconcile writes whose answer was lost.
    """
    error = _translate(failure)
    error.kind = failure.kind  # type: ignore[attr-defined]
    return error


def _translate(failure: Failure) -> GitHubError:
    what = f"GitHub {failure.method} {failure.path}"
    status = failure.status
    detail = failure.detail()
    tries = f" after {failure.attempts} attempts" if failure.attempts > 1 else ""
    if failure.kind == RATE_LIMIT:
        wait = failure.gave_up_wait
        hint = "GitHub is rate limiting this token; re-run the workflow later"
        if wait is not None:
            at = time.strftime("%H:%M UTC", time.gmtime(time.time() + wait))
            hint = f"GitHub asks to wait {wait:.0f}s (until about {at}); re-run the workflow after that"
        return Transient(
            redact(f"{what}: rate limited ({status}: {detail}){tries}"),
            hint=hint,
            status=status,
            retry_after=wait,
        )
    if failure.kind == SERVER:
        return Transient(
            redact(f"{what}: {status} {detail}{tries}"),
            hint="GitHub answered with a server error; re-run the workflow later",
            status=status,
        )
    if failure.kind in (NETWORK, UNSENT):
        return Transient(
            redact(f"{what}: {detail or 'network error'}{tries}"),
            hint="check the network path to GITHUB_API_URL",
        )
    if status == 401:
        return PermissionDenied(
            redact(f"{what}: 401 {detail}"),
            hint="GitHub rejected the token: check the github_token input or GITHUB_TOKEN",
            status=status,
        )
    if status == 403:
        return PermissionDenied(redact(f"{what}: 403 {detail}"), hint=PERMISSIONS_HINT, status=status)
    if status in (404, 410):
        return NotFound(redact(f"{what}: {status} {detail}"), status=status)
    return GitHubError(redact(f"{what}: {status} {detail}"), status=status)
