"""memory: Memory Cloud health and a credential (cloud), or a writable SQLite path (local)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from kagura_engineer.credentials import kagura_source
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok, warn

LOGIN_HINT = "kagura auth login (OAuth device flow), or export KAGURA_API_KEY=<key>"
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}


def cloud_root(url: str) -> str:
    """The REST root of a Memory Cloud URL: query dropped, `/mcp` and what follows cut."""
    parts = urlsplit(url.strip())
    path = parts.path
    cut = path.find("/mcp")
    if cut >= 0:
        path = path[:cut]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


def check(ctx: DoctorContext) -> Outcome:
    if ctx.config.memory_backend == "local":
        return check_local(ctx)
    return check_cloud(ctx)


def check_cloud(ctx: DoctorContext) -> Outcome:
    import httpx

    root = cloud_root(ctx.config.memory_cloud_url)
    parts = urlsplit(root)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return fail(f"memory_cloud_url '{ctx.config.memory_cloud_url}' is not an http(s) URL", "fix memory_cloud_url in repo.yaml")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        return fail(
            f"memory_cloud_url {root} is plain http (the SDK allows that only for localhost)",
            "use https:// in memory_cloud_url",
        )
    auth = kagura_source(ctx.env, ctx.cwd)
    cred = f"credential: {auth.source}" if auth.source else f"no credential ({auth.problem or 'none found'})"
    with ctx.http() as http:
        try:
            response = http.get(f"{root}/health")
        except httpx.HTTPError as exc:
            why = "connection refused or host unreachable" if isinstance(exc, httpx.ConnectError) else type(exc).__name__
            return fail(
                f"Memory Cloud at {root} unreachable: {why}; {cred}",
                "check memory_cloud_url and the network (run would fall back to the local outbox)",
            )
    if response.status_code != 200:
        return fail(
            f"{root}/health answered HTTP {response.status_code}; {cred}", "check memory_cloud_url (or the service status)"
        )
    if auth.source is None:
        return fail(f"Memory Cloud at {root} is up, but {cred}", LOGIN_HINT)
    return ok(f"Memory Cloud at {root} is up; {cred}")


def check_local(ctx: DoctorContext) -> Outcome:
    outcome = _check_local_path(ctx)
    if outcome.status != "OK":
        return outcome
    why = _keyword_only_reason(ctx)
    if why is None:
        return ok(f"{outcome.detail}; semantic recall on")
    return warn(f"{outcome.detail}; recall is keyword-only: {why}", outcome.hint)


def _keyword_only_reason(ctx: DoctorContext) -> str | None:
    """Why recall would be keyword-only here, or None (numpy is not imported for this)."""
    from kagura_engineer.memory import embed
    from kagura_engineer.memory.local import ENV_SEMANTIC

    if ctx.env.get(ENV_SEMANTIC, "").strip().lower() in ("0", "off", "false", "no"):
        return f"${ENV_SEMANTIC} turns semantic recall off"
    return embed.installed_reason()


def _check_local_path(ctx: DoctorContext) -> Outcome:
    raw = ctx.config.local_memory_path
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = ctx.cwd / path
    if path.exists():
        if not path.is_file():
            return fail(f"{path} exists but is not a file", "point local_memory_path at a file path")
        if not os.access(path, os.R_OK | os.W_OK):
            return fail(f"{path} is not writable", f"chmod u+rw {path} (or fix its owner)")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return fail(f"{path.parent} is not writable (SQLite needs it for its journal)", f"chmod u+rwx {path.parent}")
        return ok(f"local memory {path} ({path.stat().st_size // 1024} KiB), writable")
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return fail(f"cannot create {path}: {ancestor} is not a directory", "point local_memory_path somewhere creatable")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return fail(f"cannot create {path}: {ancestor} is not writable", f"chmod u+rwx {ancestor} (or fix its owner)")
    return ok(f"local memory {path} will be created on first use")
