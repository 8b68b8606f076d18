"""INPUT_* → Inputs, following the runner's naming rules; action.yml and the parser agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kagura_engineer.action.command import OUTPUTS
from kagura_engineer.action.inputs import Inputs, env_name, parse_inputs, secret_values
from kagura_engineer.errors import ConfigError

ACTION_YML = Path(__file__).parents[2] / "action.yml"


def test_runner_naming_rules():
    assert env_name("github_token") == "INPUT_GITHUB_TOKEN"
    assert env_name("github-token") == "INPUT_GITHUB-TOKEN"  # hyphens are kept
    assert env_name("My input") == "INPUT_MY_INPUT"  # spaces become underscores


def test_absent_variables_give_the_action_yml_defaults():
    assert parse_inputs({}) == Inputs()
    manifest = yaml.safe_load(ACTION_YML.read_text())
    runner_env = {env_name(name): str(spec.get("default", "")) for name, spec in manifest["inputs"].items()}
    runner_env["INPUT_GITHUB_TOKEN"] = "ghs_x"  # the runner evaluates ${{ github.token }}
    parsed = parse_inputs(runner_env)
    assert parsed == Inputs(github_token="ghs_x")


def test_blank_and_padded_values():
    env = {"INPUT_COMMAND": "  Run \n", "INPUT_ISSUE": " #42 ", "INPUT_LABEL": "   ", "INPUT_MILESTONE": "\t"}
    inputs = parse_inputs(env)
    assert (inputs.command, inputs.issue, inputs.label, inputs.milestone) == ("run", 42, "kagura", None)


def test_hyphenated_spellings_are_honoured():
    env = {"INPUT_ANTHROPIC-API-KEY": "sk-ant-zzz", "INPUT_TRIGGER-PHRASE": "@bot", "INPUT_MAX-TURNS": "9",
           "INPUT_GITHUB_TOKEN": "ghs_declared", "INPUT_GITHUB-TOKEN": "ghs_other"}  # fmt: skip
    inputs = parse_inputs(env)
    assert inputs.anthropic_api_key == "sk-ant-zzz"
    assert (inputs.trigger_phrase, inputs.max_turns) == ("@bot", 9)
    assert inputs.github_token == "ghs_declared"  # the declared spelling wins when set
    assert set(secret_values(env)) == {"sk-ant-zzz", "ghs_declared", "ghs_other"}  # all get masked


def test_types_and_lists():
    inputs = parse_inputs({
        "INPUT_MAX_BUDGET_USD": "2.5", "INPUT_TIMEOUT_MINUTES": "30", "INPUT_FIX": "TRUE", "INPUT_CACHE": "false",
        "INPUT_DRAFT": "True", "INPUT_ALLOWED_TOOLS": "Read, Edit\nBash(git:*)\n\nRead",
        "INPUT_ALLOWED_BOTS": "Renovate[bot], dependabot", "INPUT_MEMORY_BACKEND": "Local",
    })  # fmt: skip
    assert (inputs.max_budget_usd, inputs.timeout_minutes) == (2.5, 30.0)
    assert (inputs.fix, inputs.cache, inputs.draft) == (True, False, True)
    assert (inputs.plan, parse_inputs({"INPUT_PLAN": "true"}).plan) == (False, True)
    assert inputs.allowed_tools == ("Read", "Edit", "Bash(git:*)")
    assert inputs.allowed_bots == ("renovate[bot]", "dependabot")
    assert inputs.memory_backend == "local"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("COMMAND", "deploy", "must be one of"),
        ("ISSUE", "abc", "issue or pull request number"),
        ("ISSUE", "0", "issue or pull request number"),
        ("PR", "-3", "issue or pull request number"),
        ("MAX_TURNS", "1.5", "positive int"),
        ("MAX_BUDGET_USD", "-1", "positive float"),
        ("MAX_BUDGET_USD", "nan", "positive float"),
        ("FIX", "yes", "true or false"),
        ("CACHE", "1", "true or false"),
        ("PLAN", "plan", "true or false"),
        ("MEMORY_BACKEND", "s3", "must be one of"),
        ("ALLOWED_BOTS", "not a login!", "not a GitHub login"),
        ("LABEL", "a,b", "one label"),
        ("TRIGGER_PHRASE", "@x", "at least 3"),
        ("GITHUB_TOKEN", "ghs_a b", "whitespace"),
    ],
)
def test_invalid_values_name_the_input(name, value, words):
    with pytest.raises(ConfigError) as exc:
        parse_inputs({f"INPUT_{name}": value})
    assert name.lower() in exc.value.message and words in exc.value.message
    if name == "GITHUB_TOKEN":
        assert value not in exc.value.message  # a secret is never echoed


def test_secrets_are_not_in_the_repr():
    inputs = parse_inputs({"INPUT_GITHUB_TOKEN": "ghs_secretvalue", "INPUT_KAGURA_API_KEY": "kagura_k"})
    assert "ghs_secretvalue" not in repr(inputs) and "kagura_k" not in repr(inputs)
    assert inputs.secrets() == {"GITHUB_TOKEN": "ghs_secretvalue", "KAGURA_API_KEY": "kagura_k"}


def test_action_yml_declares_every_input_and_output():
    manifest = yaml.safe_load(ACTION_YML.read_text())
    fields = [f for f in Inputs.__dataclass_fields__]
    assert sorted(manifest["inputs"]) == sorted(fields)
    assert sorted(manifest["outputs"]) == sorted(OUTPUTS)
    assert manifest["inputs"]["github_token"]["default"] == "${{ github.token }}"
    assert manifest["inputs"]["command"]["default"] == "auto"
    assert manifest["inputs"]["memory_backend"]["default"] == "auto"
    assert manifest["inputs"]["cache"]["default"] == "true"


def test_action_yml_shape():
    """The shape SchemaStore's github-action schema asks for, and the runner's docker keys."""
    manifest = yaml.safe_load(ACTION_YML.read_text())
    assert set(manifest) <= {"name", "author", "description", "inputs", "outputs", "runs", "branding"}
    assert {"name", "description", "runs"} <= set(manifest)
    for name, spec in manifest["inputs"].items():
        assert set(spec) <= {"description", "required", "default", "deprecationMessage"}, name
        assert spec["description"].strip() and spec["required"] is False, name
        assert isinstance(spec.get("default", ""), str), name
    for name, spec in manifest["outputs"].items():
        assert set(spec) == {"description"} and spec["description"].strip(), name
    runs = manifest["runs"]
    assert set(runs) <= {"using", "image", "entrypoint", "args", "env", "pre-entrypoint", "pre-if",
                         "post-entrypoint", "post-if"}  # fmt: skip
    assert (runs["using"], runs["image"], runs["post-if"]) == ("docker", "Dockerfile", "always()")
    assert runs["post-entrypoint"].startswith("/post")  # entrypoint.py recognises the post step by name
    assert manifest["branding"]["color"] in (
        "white",
        "yellow",
        "blue",
        "green",
        "orange",
        "red",
        "purple",
        "gray-dark",
    )
