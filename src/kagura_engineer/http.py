"""Plain HTTP with retries: every non-SDK, non-ghapi HTTP call goes through `HttpClient`.

Retries (tenacity) on 429 and the listed 5xx statuses and on timeouts/connection errors,
honouring `Retry-After` (seconds or an HTTP date), bounded by attempts and total time.
Other 4xx are answered at once. Secrets in URLs or headers never reach an error message.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

from kagura_engineer import __version__

USER_AGENT = f"kagura-engineer/{__version__}"


class RetryableStatus(Exception):
    """A response whose status is worth another try; carries the server's Retry-After."""

    def __init__(self, response: httpx.Response, retry_after: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    attempts: int = 5
    total_seconds: float = 30.0
    base_delay: float = 0.5
    max_delay: float = 10.0


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, (RetryableStatus, httpx.TimeoutException, httpx.TransportError))


class HttpClient:
    """A small httpx wrapper: base URL, headers, timeout, and the retry policy."""

    def __init__(
        self,
        base_url: str = "",
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
            return min(exc.retry_after, self.policy.total_seconds)
        delay = self.policy.base_delay * (2 ** (state.attempt_number - 1))
        return min(delay, self.policy.max_delay)

    def request(
        self,
        method: str,
        url: str,
        *,
        ok_statuses: Iterable[int] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; returns the final response (raising only on exhausted transport errors).

        A retryable status still failing after the last attempt is returned, not raised,
        so callers decide what an outage means for them.
        """
        return self._send(method, url, set(ok_statuses), stream=False, **kwargs)

    @contextlib.contextmanager
    def stream(self, method: str, url: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """`request`, but the body is left unread for the caller to iterate (`iter_bytes`)
        inside the block; the retries look at the status line only."""
        response = self._send(method, url, set(), stream=True, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def _send(self, method: str, url: str, ok: set[int], *, stream: bool, **kwargs: Any) -> httpx.Response:
        policy = self.policy

        def once() -> httpx.Response:
            if stream:
                response = self._client.send(self._client.build_request(method, url, **kwargs), stream=True)
            else:
                response = self._client.request(method, url, **kwargs)
            if response.status_code in policy.statuses and response.status_code not in ok:
                if stream:  # an error answer is small: read it, so the caller can, and free the connection
                    response.read()
                    response.close()
                raise RetryableStatus(response, parse_retry_after(response.headers.get("retry-after")))
            return response

        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.total_seconds),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(once)
        except RetryableStatus as exc:
            return exc.response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

