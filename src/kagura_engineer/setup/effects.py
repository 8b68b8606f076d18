"""One side effect a setup step runs: argv and environment, shown exactly as it runs."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One side effect: argv plus the variables it needs; `display()` is exactly what runs."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    timeout: float = 900.0
    passthrough: tuple[str, ...] = ()
    hint: str | None = None  # shown when the command fails

    @classmethod
    def of(cls, *argv: str, env: Mapping[str, str] | None = None, timeout: float = 900.0,
           passthrough: tuple[str, ...] = (), hint: str | None = None) -> Command:  # fmt: skip
        return cls(tuple(argv), tuple((env or {}).items()), timeout, passthrough, hint)

    def display(self) -> str:
        return shlex.join([f"{k}={v}" for k, v in self.env] + list(self.argv))
