"""The project's workflows, the example workflows users copy, and action.yml, checked statically.

- Each file validates against the SchemaStore schemas that check-jsonschema vendors
  (`vendor.github-workflows`, `vendor.github-actions`), and every job sets a timeout
  (check-jsonschema's `custom.github-workflows-require-timeout`).
- Every `with:` key given to this action (`uses: ./` or `uses: kagura-ai/kagura-engineer@…`)
  is an input declared in action.yml, and the literal values pass the action's own input
  parsing; secrets reach it as inputs, never through a step's `env:`.
- Every `fromJSON(needs.X.outputs.Y)` names a job the referencing job needs and an output X
  declares, fed by a real step's output (an output of action.yml when that step is this action).
- Permissions are explicit and minimal (`id-token: write` only on the job that publishes with
  OIDC); example jobs that start work have a per-target concurrency group that is never
  cancelled in progress; schedules avoid minute 0; examples/README.md describes every example.

YAML is read as GitHub reads it (YAML 1.2: `on:` stays a string key).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from check_jsonschema.builtin_schemas import get_builtin_schema
from jsonschema.validators import validator_for
from ruamel.yaml import YAML

from kagura_engineer.action.inputs import env_name, parse_inputs
from kagura_engineer.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ACTION_YML = ROOT / "action.yml"
OWN_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
EXAMPLES = sorted((ROOT / "examples" / "workflows").glob("*.y*ml"))
WORKFLOWS = OWN_WORKFLOWS + EXAMPLES
# Workflows whose jobs must run this action somewhere (release.yml publishes it, never runs it).
MUST_USE_ACTION = [*EXAMPLES, ROOT / ".github" / "workflows" / "ci.yml"]
FROM_JSON_NEEDS = re.compile(r"fromJSON\(\s*needs\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)")
STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)\s*\}\}$")
EXPRESSION = "${{"


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def load_yaml(path: Path) -> Any:
    """YAML 1.2, safe types only: what GitHub's parser sees (`on` is not a boolean)."""
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def schema_errors(instance: Any, schema_name: str) -> list[str]:
    """Every violation of the named check-jsonschema builtin schema, as `path: message` lines."""
    schema = get_builtin_schema(schema_name)
    cls = validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {_message(e)}" for e in errors]


def _message(error: Any) -> str:
    """The error, or for oneOf/anyOf the reasons of each branch (the instance itself is noise)."""
    if error.context:
        return "none of the alternatives: " + "; ".join(sorted({c.message[:200] for c in error.context}))
    return error.message[:300]


def is_this_action(uses: object) -> bool:
    return isinstance(uses, str) and (uses == "./" or uses.startswith("kagura-ai/kagura-engineer@"))


def jobs(workflow: dict) -> dict[str, dict]:
    return workflow.get("jobs") or {}


def action_steps(workflow: dict) -> Iterator[tuple[str, dict]]:
    """(job id, step) for every step that runs this action."""
    for job_id, job in jobs(workflow).items():
        for step in job.get("steps") or []:
            if is_this_action(step.get("uses")):
                yield job_id, step


def undeclared_inputs(workflow: dict, declared: set[str]) -> list[str]:
    """`job: key` for each `with:` key given to this action that action.yml does not declare."""
    return [f"{job_id}: {key}" for job_id, step in action_steps(workflow)
            for key in (step.get("with") or {}) if key not in declared]  # fmt: skip


def literal_inputs_env(step: dict) -> dict[str, str]:
    """The `INPUT_*` variables the runner would set from the step's literal `with:` values."""
    env = {}
    for key, value in (step.get("with") or {}).items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        if EXPRESSION not in text:
            env[env_name(key)] = text
    return env


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def needs_of(job: dict) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def matrix_ref_problems(workflow: dict, action_outputs: set[str]) -> list[str]:
    """Problems with each `fromJSON(needs.X.outputs.Y)`: job, need, output and its source step."""
    problems = []
    all_jobs = jobs(workflow)
    for job_id, job in all_jobs.items():
        for text in strings(job):
            for source, output in FROM_JSON_NEEDS.findall(text):
                where = f"{job_id}: needs.{source}.outputs.{output}"
                if source not in all_jobs:
                    problems.append(f"{where}: no job {source!r}")
                    continue
                if source not in needs_of(job):
                    problems.append(f"{where}: {job_id} does not list {source!r} in needs")
                declared = all_jobs[source].get("outputs") or {}
                if output not in declared:
                    problems.append(f"{where}: job {source!r} declares no output {output!r}")
                    continue
                match = STEP_OUTPUT.match(str(declared[output]).strip())
                if not match:
                    problems.append(f"{where}: the output is not fed by a step output")
                    continue
                step_id, step_output = match.groups()
                steps = {s.get("id"): s for s in all_jobs[source].get("steps") or []}
                if step_id not in steps:
                    problems.append(f"{where}: job {source!r} has no step with id {step_id!r}")
                elif is_this_action(steps[step_id].get("uses")) and step_output not in action_outputs:
                    problems.append(f"{where}: action.yml declares no output {step_output!r}")
    return problems


@pytest.fixture(scope="module")
def action() -> dict:
    return load_yaml(ACTION_YML)


def test_the_workflow_files_exist():
    names = {p.name for p in EXAMPLES}
    assert {p.name for p in OWN_WORKFLOWS} >= {"ci.yml", "release.yml"}
    assert len(names) >= 8, names


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_workflow_validates_against_schemastore(path):
    errors = schema_errors(load_yaml(path), "vendor.github-workflows")
    assert errors == [], "\n".join(errors)


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_every_job_sets_a_timeout(path):
    errors = schema_errors(load_yaml(path), "custom.github-workflows-require-timeout")
    assert errors == [], "\n".join(errors)


def test_action_yml_validates_against_schemastore(action):
    errors = schema_errors(action, "vendor.github-actions")
    assert errors == [], "\n".join(errors)


@pytest.mark.parametrize("path", MUST_USE_ACTION, ids=rel)
def test_every_with_key_is_a_declared_input(path, action):
    workflow = load_yaml(path)
    assert list(action_steps(workflow)), f"{rel(path)} never runs the action"
    missing = undeclared_inputs(workflow, set(action.get("inputs") or {}))
    assert missing == [], f"not inputs of action.yml: {missing}"


@pytest.mark.parametrize("path", MUST_USE_ACTION, ids=rel)
def test_literal_inputs_pass_the_actions_own_parsing(path):
    for job_id, step in action_steps(load_yaml(path)):
        try:
            parse_inputs(literal_inputs_env(step))
        except ConfigError as exc:
            pytest.fail(f"{rel(path)} job {job_id}: {exc.message}")


@pytest.mark.parametrize("path", MUST_USE_ACTION, ids=rel)
def test_secrets_reach_the_action_as_inputs(path):
    for job_id, step in action_steps(load_yaml(path)):
        leaked = [s for s in strings(step.get("env") or {}) if "secrets." in s]
        assert not leaked, f"{job_id}: pass secrets as `with:` inputs (they are masked), not env: {leaked}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_matrix_references_name_declared_outputs(path, action):
    problems = matrix_ref_problems(load_yaml(path), set(action.get("outputs") or {}))
    assert problems == [], "\n".join(problems)


def test_the_fan_out_example_plans_with_goal_and_runs_each_issue():
    workflow = load_yaml(ROOT / "examples/workflows/goal-matrix.yml")
    plan = next(step for _, step in action_steps(workflow) if step.get("id") == "plan")
    assert plan["with"]["command"] == "goal" and plan["with"]["plan"] is True
    run = jobs(workflow)["run"]
    assert run["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert run["strategy"]["fail-fast"] is False and run["strategy"]["max-parallel"] >= 1
    ((_, step),) = [(j, s) for j, s in action_steps(workflow) if j == "run"]
    assert step["with"]["issue"] == "${{ matrix.issue }}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_permissions_are_explicit_and_minimal(path):
    workflow = load_yaml(path)
    assert isinstance(workflow.get("permissions"), dict), "declare top-level `permissions:` scope by scope"
    for job_id, job in jobs(workflow).items():
        # job-level permissions replace the workflow's, scope by scope they are not merged
        scopes = job["permissions"] if "permissions" in job else workflow["permissions"]
        assert isinstance(scopes, dict), f"{job_id}: name each scope, no write-all/read-all"
        uses = [str(s.get("uses", "")) for s in job.get("steps") or []]
        publishes = any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses)
        if "id-token" in scopes:
            assert publishes, f"{job_id}: id-token granted but no step exchanges an OIDC token"
        if publishes:
            assert scopes == {"id-token": "write"}, f"{job_id}: the publishing job gets id-token only"
        if any(is_this_action(u) for u in uses):
            extra = {k: v for k, v in scopes.items() if k not in ("contents", "issues", "pull-requests")}
            assert extra == {}, f"{job_id}: the action needs only contents/issues/pull-requests: {extra}"


@pytest.mark.parametrize("path", EXAMPLES, ids=rel)
def test_example_jobs_have_a_per_target_group_never_cancelled(path):
    workflow = load_yaml(path)
    for job_id, _ in action_steps(workflow):
        job = jobs(workflow)[job_id]
        group = job.get("concurrency")
        assert isinstance(group, dict), f"{job_id}: job-level `concurrency: {{group, cancel-in-progress}}`"
        assert group["group"].startswith("kagura-"), group
        assert group.get("cancel-in-progress") is False, f"{job_id}: never cancel a running agent"
        assert "timeout-minutes" in job


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_schedules_avoid_the_top_of_the_hour(path):
    on = load_yaml(path)["on"]
    crons = [entry["cron"] for entry in (on.get("schedule") or [])] if isinstance(on, dict) else []
    for cron in crons:
        minute = cron.split()[0]
        assert minute.isdigit() and int(minute) != 0, f"{cron!r}: pick an off-hour minute like 17"


def test_examples_readme_describes_every_example():
    text = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in EXAMPLES if f"workflows/{p.name}" not in text]
    assert missing == [], f"examples/README.md does not link {missing}"


# The checks above must be able to fail: each one against a workflow that breaks its rule.

BROKEN = {
    "on": {"issues": {"types": ["labeled"]}},
    "permissions": {"contents": "read"},
    "jobs": {
        "plan": {"runs-on": "ubuntu-latest", "timeout-minutes": 5, "outputs": {"other": "${{ steps.p.outputs.x }}"},
                 "steps": [{"id": "p", "uses": "kagura-ai/kagura-engineer@v1", "with": {"commnd": "goal"}}]},
        "run": {"runs-on": "ubuntu-latest", "needs": "plan",
                "strategy": {"matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"},
                "steps": [{"uses": "./", "with": {"issue": "${{ matrix.issue }}", "fix": "maybe"},
                           "env": {"ANTHROPIC_API_KEY": "${{ secrets.ANTHROPIC_API_KEY }}"}}]},
    },
}  # fmt: skip


def test_the_checks_catch_a_broken_workflow(action):
    assert undeclared_inputs(BROKEN, set(action["inputs"])) == ["plan: commnd"]
    assert matrix_ref_problems(BROKEN, set(action["outputs"])) == [
        "run: needs.plan.outputs.matrix: job 'plan' declares no output 'matrix'"
    ]
    timeouts = schema_errors(BROKEN, "custom.github-workflows-require-timeout")
    assert len(timeouts) == 1 and timeouts[0].startswith("jobs/run:") and "'timeout-minutes'" in timeouts[0]
    with pytest.raises(ConfigError, match="fix"):
        parse_inputs(literal_inputs_env(BROKEN["jobs"]["run"]["steps"][0]))
    bad_schema = {**BROKEN, "on": {"issues": {"types": ["labelled"]}}, "jobs": {"x": {"steps": []}}}
    assert schema_errors(bad_schema, "vendor.github-workflows")


def test_a_matrix_fed_by_an_undeclared_action_output_is_caught(action):
    workflow = {"jobs": {
        "plan": {"outputs": {"matrix": "${{ steps.p.outputs.frontier }}"},
                 "steps": [{"id": "p", "uses": "./"}]},
        "run": {"needs": ["plan"], "strategy": {"matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"}},
        "late": {"strategy": {"matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"}},
    }}  # fmt: skip
    assert matrix_ref_problems(workflow, set(action["outputs"])) == [
        "run: needs.plan.outputs.matrix: action.yml declares no output 'frontier'",
        "late: needs.plan.outputs.matrix: late does not list 'plan' in needs",
        "late: needs.plan.outputs.matrix: action.yml declares no output 'frontier'",
    ]


# Supply chain: what zizmor and actionlint check in .ci/run, pinned here too so the default
# suite fails on a slip without those binaries.

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"^\s+# v(?P<major>\d+)\.\d+\.\d+\b")
# The first major of each action that runs on node24 (node20 is deprecated on the runners).
MIN_MAJOR = {
    "actions/checkout": 5, "actions/setup-python": 6, "actions/setup-node": 5, "actions/cache": 5,
    "actions/upload-artifact": 6, "actions/download-artifact": 7, "actions/create-github-app-token": 2,
    "docker/setup-buildx-action": 4, "docker/login-action": 4, "docker/build-push-action": 7,
}  # fmt: skip
OWN_ACTION_IGNORE = "# zizmor: ignore[unpinned-uses]"


def uses_lines(text: str) -> list[tuple[str, str]]:
    """(reference, rest of the line) for each `uses:` in a workflow's raw text."""
    return [(m["ref"], m["rest"]) for line in text.splitlines() if (m := USES_LINE.match(line))]


def pinning_problems(text: str) -> list[str]:
    problems = []
    for ref, rest in uses_lines(text):
        if ref == "./" or ref.startswith("docker://"):
            continue
        if is_this_action(ref):
            if OWN_ACTION_IGNORE not in rest:
                problems.append(f"{ref}: say beside it why the major tag is used (`{OWN_ACTION_IGNORE} ...`)")
            continue
        pinned, version = PINNED.match(ref), VERSION_COMMENT.match(rest)
        if not pinned or not version:
            problems.append(f"{ref}: pin a full commit SHA with its version in a comment (`@<sha> # v1.2.3`)")
        elif int(version["major"]) < MIN_MAJOR.get(pinned["action"], 0):
            problems.append(f"{ref}: v{version['major']} runs on node20; use v{MIN_MAJOR[pinned['action']]}+")
    return problems


def credential_problems(workflow: dict) -> list[str]:
    problems = []
    for job_id, job in jobs(workflow).items():
        for step in job.get("steps") or []:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                if (step.get("with") or {}).get("persist-credentials") is not False:
                    problems.append(f"{job_id}: actions/checkout without `persist-credentials: false`")
    return problems


def injection_problems(workflow: dict) -> list[str]:
    """`${{ github.event.* }}` (attacker-controlled text) expanded inside a shell script."""
    return [f"{job_id}: {step['run'].strip().splitlines()[0]}"
            for job_id, job in jobs(workflow).items() for step in job.get("steps") or []
            if "run" in step and re.search(r"\$\{\{[^}]*github\.event\.", step["run"])]  # fmt: skip


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_every_action_is_pinned_to_a_commit_of_a_current_major(path):
    problems = pinning_problems(path.read_text(encoding="utf-8"))
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_checkout_never_keeps_the_token_in_the_repository(path):
    problems = credential_problems(load_yaml(path))
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_the_workflow_grants_nothing_and_each_job_names_its_scopes(path):
    workflow = load_yaml(path)
    assert workflow["permissions"] == {}, "workflow level `permissions: {}`"
    missing = [
        job_id for job_id, job in jobs(workflow).items() if not isinstance(job.get("permissions"), dict)
    ]
    assert missing == [], f"jobs without their own `permissions:` {missing}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_no_event_text_is_expanded_inside_a_script(path):
    problems = injection_problems(load_yaml(path))
    assert problems == [], "pass it through `env:` instead:\n" + "\n".join(problems)


def test_the_supply_chain_checks_catch_each_slip():
    sha = "3d3c42e5aac5ba805825da76410c181273ba90b1"
    assert pinning_problems(f"    - uses: actions/checkout@{sha} # v7.0.1\n") == []
    assert pinning_problems("    - uses: actions/checkout@v7\n")
    assert pinning_problems(f"    - uses: actions/checkout@{sha}\n")  # no version comment
    assert pinning_problems(f"    - uses: actions/checkout@{sha[:12]} # v7.0.1\n")
    assert pinning_problems(f"    - uses: actions/checkout@{sha} # v4.2.2\n")  # node20
    assert pinning_problems(f"      uses: actions/cache@{sha} # v5.0.5\n") == []
    assert pinning_problems("    - uses: kagura-ai/kagura-engineer@v1\n")
    assert pinning_problems(f"    - uses: kagura-ai/kagura-engineer@v1  {OWN_ACTION_IGNORE} why\n") == []
    checkout = {"uses": f"actions/checkout@{sha}", "with": {"fetch-depth": 0}}
    assert credential_problems({"jobs": {"j": {"steps": [checkout]}}}) == [
        "j: actions/checkout without `persist-credentials: false`"
    ]
    checkout["with"]["persist-credentials"] = False
    assert credential_problems({"jobs": {"j": {"steps": [checkout]}}}) == []
    script = {"run": 'echo "${{ github.event.issue.title }}"'}
    assert injection_problems({"jobs": {"j": {"steps": [script, {"run": 'echo "$TITLE"'}]}}}) == [
        'j: echo "${{ github.event.issue.title }}"'
    ]


def test_the_app_token_example_that_doctor_points_to_passes_the_apps_token():
    from kagura_engineer.doctor.checks.actions import APP_TOKEN_EXAMPLE

    workflow = load_yaml(ROOT / APP_TOKEN_EXAMPLE)
    ((job_id, step),) = list(action_steps(workflow))
    job = jobs(workflow)[job_id]
    (mint,) = [
        s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/create-github-app-token@")
    ]
    outputs = "${{ steps." + mint["id"] + ".outputs"
    assert step["with"]["github_token"] == outputs + ".token }}"
    assert step["with"]["bot_login"] == outputs + ".app-slug }}[bot]"
    assert {k: v for k, v in mint["with"].items() if k.startswith("permission-")} == {
        "permission-contents": "write", "permission-issues": "write", "permission-pull-requests": "write",
    }  # fmt: skip
    # the workflow's own token only checks out; the App's token expires an hour after it is made
    assert job["permissions"] == {"contents": "read"}
    assert job["timeout-minutes"] < 60 and step["with"]["timeout_minutes"] < job["timeout-minutes"]
