"""The one exception tree. The CLI catches `KaguraError` once and prints one line.

    KaguraError                 exit 1 unless a subclass says otherwise
    ├── ConfigError             exit 2: repo.yaml, flags, unknown step
    ├── NeedsUserError          exit 2: something only a person can do (login, permissions)
    ├── BusyError               exit 2: another job holds the lease on this target
    ├── BlockedError            exit 2: the work halted on a condition a person must resolve
    ├── GitHubError             exit 1: a GitHub REST failure after retries
    │   ├── NotFound
    │   ├── PermissionDenied
    │   └── Transient           (5xx, timeouts, rate limits: retried by the client)
    ├── AgentError              exit 1: the claude binary failed
    ├── MemoryStoreError        exit 1: a memory backend failed (not builtin MemoryError)
    │   └── MemoryAuthError     exit 2: Cloud rejected the credential or workspace
    ├── CacheError              exit 1 (callers usually downgrade it to a warning)
    └── ProcError               exit 1: a subprocess failed or timed out
"""

from __future__ import annotations


class KaguraError(Exception):
    """An expected failure: printed as one line `error[code]: message` plus a hint."""

    code = "kagura-error"
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(KaguraError):
    code = "config"
    exit_code = 2


class NeedsUserError(KaguraError):
    code = "needs-user"
    exit_code = 2


class BusyError(KaguraError):
    code = "busy"
    exit_code = 2


class BlockedError(KaguraError):
    code = "blocked"
    exit_code = 2


class GitHubError(KaguraError):
    code = "github"

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class NotFound(GitHubError):
    code = "github-not-found"


class PermissionDenied(GitHubError):
    code = "github-permission"
    exit_code = 2


class Transient(GitHubError):
    code = "github-transient"

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint, status)
        self.retry_after = retry_after


class AgentError(KaguraError):
    code = "agent"


class MemoryStoreError(KaguraError):
    code = "memory"


class MemoryAuthError(MemoryStoreError):
    code = "memory-auth"
    exit_code = 2


class CacheError(KaguraError):
    code = "cache"


class ProcError(KaguraError):
    code = "proc"

    def __init__(self, message: str, hint: str | None = None, returncode: int | None = None) -> None:
        super().__init__(message, hint)
        self.returncode = returncode
