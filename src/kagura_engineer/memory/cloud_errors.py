"""What a failed Memory Cloud call means: an outage, a refusal, or a credential problem.

The official SDK raises its own exception tree (see `kagura_memory.exceptions`); this module is
the one place it is translated (`classify`), so nothing above `memory/` sees an SDK type:

- `Unreachable`: Cloud could not be reached or kept failing (connection refused/reset/timed out,
  a dropped connection, 5xx or 429 after the retries). The caller fails over to the local store.
- `MemoryAuthError` (exit 2): 401, an expired login, or 403 for the workspace in the URL.
  Not an outage: nothing is kept locally, the write is reported as failed.
- `NotFoundInCloud`: an in-band `*_not_found` (the caller decides: memory or context).
- `Refused`: Cloud answered and said no (validation, permission, a quota); `code` carries the
  in-band error code when the SDK message names one.

`is_transient` picks what the adapter's tenacity loop retries: `KaguraRateLimitError` and a
`KaguraConnectionError` caused by an HTTP 5xx. Session expiry (404) is the SDK's own business:
it re-initializes once and replays, so it is never seen here unless that replay failed too.
"""

from __future__ import annotations

import re

import httpx
from kagura_memory.exceptions import (
    KaguraAuthError,
    KaguraAuthExpiredError,
    KaguraConnectionError,
    KaguraError,
    KaguraNotFoundError,
    KaguraQuotaError,
    KaguraRateLimitError,
)

from kagura_engineer.errors import ConfigError, MemoryAuthError, MemoryStoreError
from kagura_engineer.errors import KaguraError as OurError
from kagura_engineer.proc import redact

#: 403 codes that mean "this credential may not use this workspace" (others: plan/feature gates).
_AUTH_403 = frozenset({"", "workspace_mismatch", "access_denied", "invalid_token", "insufficient_scope"})
_CODE = re.compile(r"^\w+ failed \((?P<code>[A-Za-z0-9_.-]+)\)")


class Unreachable(Exception):
    """Memory Cloud is down for this call; `reason` is short, secret-free and user-facing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(MemoryStoreError):
    """Memory Cloud answered and refused the call (`code`: the in-band error code, if known)."""

    def __init__(self, message: str, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.error_code = code


class QuotaRefused(Refused):
    """A plan or quota cap (daily call limit, memory count): waiting or upgrading helps."""


class NotFoundInCloud(Refused):
    """An in-band `*_not_found`: the memory or the context does not exist (or is not visible)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text, redacted (the SDK's messages are multi-line)."""
    text = str(exc).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)


def is_transient(exc: BaseException) -> bool:
    """Worth another try: HTTP 429, or HTTP 5xx (never a transport failure, never a 4xx)."""
    if isinstance(exc, KaguraRateLimitError):
        return True
    cause = exc.__cause__
    return (
        isinstance(exc, KaguraConnectionError)
        and isinstance(cause, httpx.HTTPStatusError)
        and cause.response.status_code >= 500
    )


def retry_after(exc: BaseException | None) -> float | None:
    """The server's Retry-After in seconds for a 429 (None: no usable header)."""
    if isinstance(exc, KaguraRateLimitError) and exc.retry_after is not None:
        return float(exc.retry_after)
    return None


def transport_reason(cause: httpx.RequestError) -> str:
    """A short description of a transport failure, with no URL (and so no secret) in it."""
    if isinstance(cause, httpx.TimeoutException):
        return "timed out"
    if isinstance(cause, httpx.ConnectError):
        return "connection refused" if _caused_by(cause, ConnectionRefusedError) else "cannot connect"
    if isinstance(cause, httpx.RemoteProtocolError):
        return "connection dropped"
    if isinstance(cause, (httpx.ReadError, httpx.WriteError)):
        return "connection reset"
    return type(cause).__name__


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in the cause/context chain (async httpx hides the errno)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _status_detail(response: httpx.Response) -> tuple[str, str]:
    """(error code, description) from an HTTP error body, either may be empty."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    code = error if isinstance(error, str) else ""
    for key in ("error_description", "message", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return code, redact(value.splitlines()[0])
    return code, ""


def classify(exc: BaseException, *, source: str, workspace: str | None, url: str) -> BaseException:
    """Translate one SDK failure (after retries) into what the adapter acts on."""
    if isinstance(exc, (Unreachable, OurError)):
        return exc
    if isinstance(exc, KaguraAuthExpiredError):
        return MemoryAuthError(f"the login behind {source} has expired", hint="run `kagura auth login` again")
    if isinstance(exc, KaguraAuthError):
        return MemoryAuthError(f"{source} was rejected by Memory Cloud (401)")
    if isinstance(exc, KaguraRateLimitError):
        return Unreachable("rate limited: HTTP 429")
    if isinstance(exc, KaguraQuotaError):
        return QuotaRefused(f"Memory Cloud quota: {first_line(exc)}")
    if isinstance(exc, KaguraNotFoundError):
        return NotFoundInCloud(first_line(exc))
    if isinstance(exc, KaguraConnectionError):
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPStatusError):
            return _from_status(cause.response, source=source, workspace=workspace, url=url)
        if isinstance(cause, httpx.RequestError):
            return Unreachable(transport_reason(cause))
        return MemoryStoreError(f"Memory Cloud: {first_line(exc)}")
    if isinstance(exc, KaguraError):
        text = first_line(exc)
        match = _CODE.match(text)
        return Refused(f"Memory Cloud refused it: {text}", code=match.group("code") if match else None)
    if isinstance(exc, ValueError):  # the SDK's own argument checks
        return MemoryStoreError(first_line(exc))
    return exc


def _from_status(response: httpx.Response, *, source: str, workspace: str | None, url: str) -> BaseException:
    status = response.status_code
    code, detail = _status_detail(response)
    if status >= 500:
        return Unreachable(f"HTTP {status}")
    if status == 403 and code in _AUTH_403:
        where = f"workspace {workspace}" if workspace else "this workspace"
        return MemoryAuthError(
            f"{source} may not use {where} (403 {code or 'forbidden'}{': ' + detail if detail else ''})",
            hint="check workspace_id in repo.yaml against the workspace of the key or login",
        )
    if status == 404:
        return MemoryStoreError(
            f"Memory Cloud answered 404 at {redact(url)}",
            hint="memory_cloud_url must be the service root, e.g. https://memory.kagura-ai.com",
        )
    if status == 400:
        return ConfigError(
            f"Memory Cloud refused the endpoint {redact(url)} (400{': ' + detail if detail else ''})"
        )
    return Refused(f"Memory Cloud answered HTTP {status}{': ' + detail if detail else ''}", code=code or None)
