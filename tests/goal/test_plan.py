"""`goal --plan`: the ready frontier as a matrix include list, on stdout and in GITHUB_OUTPUT,
through the real CLI against the GitHub stand-in."""

from __future__ import annotations

import json
import re

from check_jsonschema.builtin_schemas import get_builtin_schema
from jsonschema.validators import validator_for

from kagura_engineer import cli
from kagura_engineer.git import branch_name

from .conftest import MILESTONE, three_issues


def _matrix_errors(matrix: object) -> list[str]:
    """Violations of SchemaStore's workflow schema for a job using `matrix` as its strategy."""
    workflow = {
        "on": {"workflow_dispatch": None},
        "jobs": {"run": {"runs-on": "ubuntu-latest", "timeout-minutes": 5, "strategy": {"matrix": matrix},
                         "steps": [{"run": "true"}]}},
    }  # fmt: skip
    schema = get_builtin_schema("vendor.github-workflows")
    cls = validator_for(schema)
    return [e.message for e in cls(schema).iter_errors(workflow)]


def _outputs(path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file as the runner does (both the plain and delimiter forms)."""
    out, lines, i = {}, path.read_text().split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            j = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1 : j])
            i = j + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


def test_plan_prints_the_ready_frontier_and_writes_it_to_github_output(world, cli_env, capsys):
    config, output = cli_env
    three_issues(world)
    world.issue(4, "Animate the banner", "blocked by #1")
    assert cli.main(["goal", MILESTONE, "--plan", "-c", str(config)]) == 0
    printed = capsys.readouterr().out.strip()
    plan = json.loads(printed)
    assert plan == {"include": [
        {"issue": 3, "title": "Add a greeting file", "wave": 0, "depends_on": [], "base": ""},
        {"issue": 2, "title": "Document the banner", "wave": 0, "depends_on": [], "base": ""},
    ]}  # fmt: skip
    assert _matrix_errors(plan) == []
    assert _outputs(output)["matrix"] == printed  # the same single-line JSON
    assert "\n" not in printed


def test_dependents_join_the_frontier_once_their_dependency_has_a_pr(world, cli_env, capsys):
    config, output = cli_env
    three_issues(world)
    world.issue(4, "Animate the banner", "blocked by #1")
    greeting = branch_name("kagura/", 3, "Add a greeting file")
    # #3 shipped by a matrix job: its branch and open PR exist
    import subprocess

    subprocess.run(["git", "push", "-q", "origin", f"HEAD:refs/heads/{greeting}"], cwd=world.repo, check=True)
    world.github.add_pull(greeting, "main", "Add a greeting file (#3)")
    assert cli.main(["goal", MILESTONE, "--plan", "--json", "-c", str(config)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "planned" and data["milestone"] == MILESTONE
    include = data["include"]
    assert [e["issue"] for e in include] == [1, 2]
    assert include[0] == {"issue": 1, "title": "Use the greeting in the banner", "wave": 1, "depends_on": [3],
                          "base": greeting}  # fmt: skip
    assert _matrix_errors({"include": include}) == []
    states = {r["issue"]: r["state"] for r in data["issues"]}
    assert states == {3: "shipped", 1: "ready", 2: "ready", 4: "waiting"}
    assert json.loads(_outputs(output)["matrix"]) == {"include": include}


def test_titles_in_the_matrix_carry_no_shell_metacharacters(world, cli_env, capsys):
    config, _ = cli_env
    world.issue(1, 'Fix `rm -rf $HOME`; echo "pwned" | sh && $(id) <x>', "")
    assert cli.main(["goal", MILESTONE, "--plan", "-c", str(config)]) == 0
    title = json.loads(capsys.readouterr().out)["include"][0]["title"]
    assert not re.search(r"[`$\"';|&<>\\]", title)
    assert "rm -rf HOME" in title


def test_an_empty_frontier_is_an_empty_include_list(world, cli_env, capsys):
    config, output = cli_env
    world.issue(1, "Needs an outside issue", "Depends on #40")
    world.github.add_issue(40, "open elsewhere")
    assert cli.main(["goal", MILESTONE, "--plan", "-c", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == {"include": []}
    assert json.loads(_outputs(output)["matrix"]) == {"include": []}


def test_plan_names_a_cycle_and_exits_2(world, cli_env, capsys):
    config, output = cli_env
    world.issue(1, "A", "depends on #2")
    world.issue(2, "B", "blocked by #3")
    world.issue(3, "C", "- [ ] #1")
    assert cli.main(["goal", MILESTONE, "--plan", "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert "error[goal-cycle]" in err and "#1 → #2 → #3 → #1" in err
    assert output.read_text() == ""


def test_an_unknown_milestone_is_a_clean_error(world, cli_env, capsys):
    config, _ = cli_env
    assert cli.main(["goal", "nope", "--plan", "-c", str(config)]) == 2
    assert "error[config]: no milestone titled 'nope'" in capsys.readouterr().err
