"""repo.yaml → `Config`, with one clean line for every user error.

Lookup order for the file: `-c/--config PATH` (must exist), else `$KAGURA_CONFIG`, else
`repo.yaml`, `.kagura/repo.yaml`, `.github/kagura.yaml` in the working directory. With no
file at all the embedded defaults apply (`profile: default`), so a fresh checkout works
without any configuration.

Memory backend: `local` unless chosen otherwise. Setting `workspace_id` or `context_id`
without a `memory_backend` means `cloud`; `cloud`, chosen or implied, needs both ids and
names the missing ones.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kagura_engineer.config_file import (  # noqa: F401  (SEARCH_PATHS is part of this module's API)
    DEFAULT_LOCAL_MEMORY_PATH,
    EMBEDDED_DEFAULTS,
    SEARCH_PATHS,
    find_config,
)
from kagura_engineer.errors import ConfigError

_CLOUD_IDS = ("workspace_id", "context_id")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewConfig(_Strict):
    models: list[str] = Field(default_factory=list)
    max_loops: int = Field(default=3, ge=1, le=10)


class BudgetConfig(_Strict):
    max_usd: float = Field(default=5.0, gt=0)
    max_turns: int = Field(default=60, ge=1)
    max_minutes: float = Field(default=45.0, gt=0)
    max_usd_per_goal: float | None = Field(default=None, gt=0)


class SetupStep(_Strict):
    """One `setup` command; `as: root` runs it as root (outside the clone), else the agent user."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    run: str = Field(min_length=1)
    as_: Literal["root", "agent"] | None = Field(default=None, alias="as")

    @field_validator("run")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a setup command must be a non-empty shell command")
        return value


class SetupCacheConfig(_Strict):
    """Paths in the clone that setup builds, carried in the Actions cache under a key from
    the hash of `key_files` (lockfiles; glob patterns allowed)."""

    paths: list[str] = Field(min_length=1)
    key_files: list[str] = Field(min_length=1)

    @field_validator("paths", "key_files")
    @classmethod
    def _relative(cls, value: list[str]) -> list[str]:
        for item in value:
            parts = item.replace("\\", "/").split("/")
            if not item.strip() or item.startswith(("/", "~")) or ".." in parts:
                raise ValueError(f"{item!r} must be a path inside the repository (relative, no '..')")
        return value


class GoalConfig(_Strict):
    nightly_milestone: str | None = None
    tracking_issue: int | None = Field(default=None, ge=1)


class Config(_Strict):
    """The validated contents of repo.yaml."""

    profile: str = Field(min_length=1)
    memory_backend: Literal["cloud", "local"] = "local"
    memory_cloud_url: str = "https://memory.kagura-ai.com"
    workspace_id: str | None = None
    context_id: str | None = None
    ollama_url: str = "http://localhost:11434"
    local_memory_path: str = DEFAULT_LOCAL_MEMORY_PATH
    memory_cache_max_bytes: int = Field(
        default=1024**3,
        ge=1,
        description=(
            "The largest memory DB the Actions cache restore accepts, in bytes (default 1 GiB): "
            "the download and the unpacked DB are streamed and rejected as soon as they pass it, "
            "and a larger DB is not saved."
        ),
    )
    memory_mcp_config: str | None = None
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    setup: list[SetupStep] = Field(
        default_factory=list,
        description=(
            "Shell commands run once per job before the agent starts, to install the project's "
            "toolchain: as the agent user in its clone, or as root (outside the clone) when the "
            "command starts with apt-get/apt/dpkg or is written `{run: ..., as: root}`."
        ),
    )
    setup_cache: SetupCacheConfig | None = None
    checks: list[str] = Field(default_factory=list)
    check_timeout_minutes: float = Field(default=15.0, gt=0)
    retries: int = Field(default=1, ge=0, le=5)
    branch_prefix: str = "kagura/"
    base_branch: str | None = None
    model: str | None = None
    allowed_tools: list[str] = Field(default_factory=list)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    goal: GoalConfig = Field(default_factory=GoalConfig)
    bot_login: str | None = None

    #: Where this config came from ("<embedded defaults>" when no file was found).
    source: str = Field(default="<embedded defaults>", exclude=True)

    @field_validator("checks")
    @classmethod
    def _checks_not_blank(cls, value: list[str]) -> list[str]:
        if any(not c.strip() for c in value):
            raise ValueError("a check must be a non-empty shell command")
        return value

    @field_validator("setup", mode="before")
    @classmethod
    def _setup_strings(cls, value: Any) -> Any:
        """A plain string is `{run: <string>}` (who runs it is decided by `run.toolchain`)."""
        if isinstance(value, list):
            return [{"run": c} if isinstance(c, str) else c for c in value]
        return value

    @field_validator("branch_prefix")
    @classmethod
    def _prefix_safe(cls, value: str) -> str:
        if not value or value.startswith(("-", "/")) or ".." in value or " " in value:
            raise ValueError("must be a git ref prefix such as 'kagura/'")
        return value

    @model_validator(mode="before")
    @classmethod
    def _backend_from_ids(cls, data: Any) -> Any:
        """No `memory_backend`: `cloud` when a Cloud id is set, else `local`."""
        if not isinstance(data, dict) or data.get("memory_backend") is not None:
            return data
        given = [n for n in _CLOUD_IDS if data.get(n)]
        if not given:
            return {**data, "memory_backend": "local"}
        missing = [n for n in _CLOUD_IDS if n not in given]
        if missing:
            raise ValueError(
                f"{given[0]} is set, so memory is Memory Cloud, which also requires {missing[0]}"
                f" (or set memory_backend: local)"
            )
        return {**data, "memory_backend": "cloud"}

    @model_validator(mode="after")
    def _cloud_needs_ids(self) -> Config:
        if self.memory_backend == "cloud":
            missing = [n for n in _CLOUD_IDS if not getattr(self, n)]
            if missing:
                raise ValueError(
                    f"memory_backend 'cloud' requires {' and '.join(missing)} (or set memory_backend: local)"
                )
        return self

    def with_overrides(self, *, note: str = "action inputs", **fields: Any) -> Config:
        """This config with `fields` set (None: not given), validated as repo.yaml is.

        `budget` is merged field by field (`budget={"max_turns": 12}` keeps `max_usd`); the
        source becomes `<source> + <note>`, so an error names both. A bad value is a ConfigError.
        """
        source = f"{self.source} + {note}"
        given = {name: value for name, value in fields.items() if value is not None}
        budget = given.pop("budget", {})
        if not isinstance(budget, dict):
            raise ConfigError(f"{source}: field 'budget': expected a mapping of limits")
        budget = {name: value for name, value in budget.items() if value is not None}
        if not given and not budget:
            return self
        data = self.model_dump(by_alias=True)
        data.update(given)
        data["budget"] = {**data["budget"], **budget}
        return parse_config(data, source=source)

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the working directory."""
        return Path(path) if os.path.isabs(path) else Path.cwd() / path


def load_config(explicit: str | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load and validate repo.yaml; every user error becomes one-line `ConfigError`."""
    path = find_config(explicit)
    if path is None:
        data: dict[str, Any] = dict(EMBEDDED_DEFAULTS)
        source = "<embedded defaults>"
    else:
        source = str(path)
        data = _read_yaml(path)
    if overrides:
        data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_config(data, source)


def parse_config(data: Any, source: str = "repo.yaml") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    try:
        return Config.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source, data)) from None


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", hint="pass -c PATH or create repo.yaml") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a YAML file") from None
    except PermissionError:
        raise ConfigError(f"{path}: not readable (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{where}: {problem}") from None
    if data is None:
        data = {}
    return data


def _fields_of(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The known field names at the location of an error (for did-you-mean)."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return [n for n in getattr(current, "model_fields", {}) if n != "source"]


def _one_line(exc: ValidationError, source: str, data: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = tuple(err.get("loc", ()))
    dotted = ".".join(str(p) for p in loc)
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        known = _fields_of(Config, loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{source}: unknown key '{dotted}'{hint}"
    if kind == "missing":
        return f"{source}: missing required field '{dotted}'"
    message = err.get("msg", "invalid value").removeprefix("Value error, ")
    if not loc:
        return f"{source}: {message}"
    return f"{source}: field '{dotted}': {message}"
