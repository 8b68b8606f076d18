"""The Action's `INPUT_*` variables, parsed once into a frozen `Inputs`.

Runner rules (actions/runner `Handler.AddInputsToEnvironment`): input `name` arrives as
`INPUT_<name with spaces -> _, upper-cased>`, hyphens kept (`github-token` ->
`INPUT_GITHUB-TOKEN`); every declared input is exported, an unset one as ""; `required:`
is not enforced, so this module validates. Values are trimmed; a blank value counts as
unset. Defaults live in action.yml; the fallbacks here only keep local runs (no INPUT_*
at all) sane and equal those defaults.

Each input may also be spelled with hyphens (`anthropic-api-key:`), a common habit: the
runner then exports it as an "unexpected input", and it is honoured when the declared
underscore spelling is blank.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kagura_engineer.errors import ConfigError

COMMANDS = ("auto", "run", "review", "goal", "eval", "doctor")
MEMORY_BACKENDS = ("auto", "cloud", "local")
#: secret input -> the canonical environment variable the in-process commands read
SECRET_INPUTS: dict[str, str] = {
    "github_token": "GITHUB_TOKEN",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "claude_code_oauth_token": "CLAUDE_CODE_OAUTH_TOKEN",
    "kagura_api_key": "KAGURA_API_KEY",
}
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")


def env_name(name: str) -> str:
    """The variable the runner sets for input `name` (spaces -> `_`, upper-case, hyphens kept)."""
    return "INPUT_" + name.replace(" ", "_").upper()


def get_input(environ: Mapping[str, str], name: str) -> str:
    """The trimmed value of input `name` ("" when unset), also accepting its hyphen spelling."""
    value = (environ.get(env_name(name)) or "").strip()
    if not value and "_" in name:
        value = (environ.get(env_name(name.replace("_", "-"))) or "").strip()
    return value


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Every non-blank secret input value, both spellings, unvalidated: for masking first."""
    values: list[str] = []
    for name in SECRET_INPUTS:
        for spelling in (name, name.replace("_", "-")):
            value = (environ.get(env_name(spelling)) or "").strip()
            if value and value not in values:
                values.append(value)
    return values


@dataclass(frozen=True)
class Inputs:
    """Every input of action.yml, typed. Secrets are excluded from `repr`."""

    command: str = "auto"
    issue: int | None = None
    pr: int | None = None
    milestone: str | None = None
    issues: tuple[int, ...] = ()  # eval: the issues to run with recall on and off
    repeat: int | None = None  # eval: runs per issue and arm
    config: str | None = None
    github_token: str = field(default="", repr=False)
    anthropic_api_key: str = field(default="", repr=False)
    claude_code_oauth_token: str = field(default="", repr=False)
    kagura_api_key: str = field(default="", repr=False)
    memory_backend: str = "auto"
    label: str = "kagura"
    trigger_phrase: str = "@kagura-engineer"
    allowed_bots: tuple[str, ...] = ()
    bot_login: str | None = None
    base_branch: str | None = None
    model: str | None = None
    max_turns: int | None = None
    max_budget_usd: float | None = None
    timeout_minutes: float | None = None
    allowed_tools: tuple[str, ...] = ()
    fix: bool = False
    plan: bool = False
    cache: bool = True
    draft: bool = False

    def secrets(self) -> dict[str, str]:
        """Canonical variable name -> value, for the secret inputs that are set."""
        return {env: getattr(self, name) for name, env in SECRET_INPUTS.items() if getattr(self, name)}


def _bool(name: str, value: str, default: bool) -> bool:
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        f"input '{name}' must be true or false, got {value!r}",
        hint="YAML 1.2 booleans: true | True | TRUE | false | False | FALSE",
    )


def _number(name: str, value: str) -> int | None:
    if not value:
        return None
    text = value[1:] if value.startswith("#") else value
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"input '{name}' must be an issue or pull request number, got {value!r}")
    return int(text)


def number_list(name: str, value: str) -> tuple[int, ...]:
    """A comma- or newline-separated list of issue numbers (`12, #15`), in order, no repeats."""
    numbers = [_number(name, item) for item in _list(value)]
    return tuple(dict.fromkeys(n for n in numbers if n is not None))


def _positive(name: str, value: str, kind: type) -> int | float | None:
    if not value:
        return None
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"input '{name}' must be a positive {kind.__name__}, got {value!r}") from None
    if number <= 0 or number != number:  # NaN
        raise ConfigError(f"input '{name}' must be a positive {kind.__name__}, got {value!r}")
    return number


def _choice(name: str, value: str, choices: tuple[str, ...], default: str) -> str:
    if not value:
        return default
    lowered = value.lower()
    if lowered not in choices:
        raise ConfigError(f"input '{name}' must be one of {', '.join(choices)}; got {value!r}")
    return lowered


def _list(value: str) -> tuple[str, ...]:
    """A comma- or newline-separated list, trimmed, blanks dropped, order kept."""
    items = [item.strip() for item in re.split(r"[,\n]", value)]
    return tuple(dict.fromkeys(item for item in items if item))


def _bots(value: str) -> tuple[str, ...]:
    bots = tuple(b.lower() for b in _list(value))
    for bot in bots:
        if bot != "*" and not _LOGIN.match(bot):
            raise ConfigError(f"input 'allowed_bots': {bot!r} is not a GitHub login (or '*')")
    return bots


def parse_inputs(environ: Mapping[str, str]) -> Inputs:
    """Read and validate every input; a bad value is one `ConfigError` naming the input."""

    def get(name: str) -> str:
        return get_input(environ, name)

    bot_login = get("bot_login") or None
    if bot_login and not _LOGIN.match(bot_login):
        raise ConfigError(f"input 'bot_login' is not a GitHub login: {bot_login!r}")
    phrase = get("trigger_phrase") or "@kagura-engineer"
    if len(phrase) < 3 or "\n" in phrase:
        raise ConfigError(f"input 'trigger_phrase' must be one line of at least 3 characters, got {phrase!r}")
    label = get("label") or "kagura"
    if "," in label or "\n" in label:
        raise ConfigError(f"input 'label' must be one label name, got {label!r}")
    for name in SECRET_INPUTS:
        if any(c.isspace() for c in get(name)):
            raise ConfigError(
                f"input '{name}' contains whitespace; paste the secret without spaces or newlines"
            )
    return Inputs(
        command=_choice("command", get("command"), COMMANDS, "auto"),
        issue=_number("issue", get("issue")),
        pr=_number("pr", get("pr")),
        milestone=get("milestone") or None,
        issues=number_list("issues", get("issues")),
        repeat=_positive("repeat", get("repeat"), int),
        config=get("config") or None,
        github_token=get("github_token"),
        anthropic_api_key=get("anthropic_api_key"),
        claude_code_oauth_token=get("claude_code_oauth_token"),
        kagura_api_key=get("kagura_api_key"),
        memory_backend=_choice("memory_backend", get("memory_backend"), MEMORY_BACKENDS, "auto"),
        label=label,
        trigger_phrase=phrase,
        allowed_bots=_bots(get("allowed_bots")),
        bot_login=bot_login,
        base_branch=get("base_branch") or None,
        model=get("model") or None,
        max_turns=_positive("max_turns", get("max_turns"), int),
        max_budget_usd=_positive("max_budget_usd", get("max_budget_usd"), float),
        timeout_minutes=_positive("timeout_minutes", get("timeout_minutes"), float),
        allowed_tools=_list(get("allowed_tools")),
        fix=_bool("fix", get("fix"), False),
        plan=_bool("plan", get("plan"), False),
        cache=_bool("cache", get("cache"), True),
        draft=_bool("draft", get("draft"), False),
    )
