"""scripts/release_action_yml.py: a release's action.yml runs the image the release publishes.

Run on copies of the real action.yml (and small variants) the way release.yml runs it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
REF = "docker://ghcr.io/kagura-ai/kagura-engineer:1.2.3"


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "release_action_yml", ROOT / "scripts" / "release_action_yml.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()


def parse(text: str):
    return YAML(typ="safe", pure=True).load(text)


@pytest.fixture
def action(tmp_path: Path) -> Path:
    path = tmp_path / "action.yml"
    path.write_bytes((ROOT / "action.yml").read_bytes())
    return path


def run(path: Path, *args: str) -> int:
    return script.main([*args, "--file", str(path)])


def test_only_the_image_line_changes(action, capsys):
    before = action.read_text(encoding="utf-8")
    assert parse(before)["runs"]["image"] == "Dockerfile"  # main builds the Dockerfile
    assert run(action, "1.2.3") == 0
    after = action.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [("  image: Dockerfile", f"  image: {REF}")]
    old, new = parse(before), parse(after)
    assert new["runs"].pop("image") == REF
    old["runs"].pop("image")
    assert new == old
    assert f"runs.image -> {REF}" in capsys.readouterr().out


def test_a_second_run_changes_nothing_and_says_so(action, capsys):
    assert run(action, "v1.2.3") == 0
    first = action.read_bytes()
    assert run(action, "1.2.3") == 0
    assert action.read_bytes() == first
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"runs.image is already {REF}; nothing changed")


def test_a_later_release_replaces_the_earlier_image(action):
    assert run(action, "1.2.3") == 0
    assert run(action, "1.3.0rc2", "--image", "ghcr.io/acme/fork") == 0
    assert parse(action.read_text())["runs"]["image"] == "docker://ghcr.io/acme/fork:1.3.0rc2"


@pytest.mark.parametrize(
    "version",
    [
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.2.3-beta",
        "1.2.3.dev1",
        "latest",
        "v",
        "1.2.3 ",
        "1.2.3\n",
        "1.2.3;x",
        "",
    ],
)
def test_a_version_that_is_not_a_release_is_refused_and_nothing_is_written(action, capsys, version):
    before = action.read_bytes()
    assert run(action, version) == 2
    assert action.read_bytes() == before
    assert "not a release version" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["0.1.0", "1.2.3", "v10.20.30", "1.4.2a1", "1.4.2b3", "1.4.2rc1"])
def test_release_versions_are_accepted(action, version):
    assert run(action, version) == 0
    assert parse(action.read_text())["runs"]["image"].endswith(":" + version.removeprefix("v"))


def test_a_bad_image_name_is_refused(action):
    before = action.read_bytes()
    assert run(action, "1.2.3", "--image", "GHCR.io/Acme:latest") == 2
    assert action.read_bytes() == before


VARIANT = """\
name: x   # image: not this one
inputs:
  image:
    description: an input called image
    default: Dockerfile
runs:
  # the image to run
  using: 'docker'
  env:
    image: Dockerfile
  image: 'Dockerfile'   # built per job
  post-entrypoint: /post.py
"""


def test_quotes_comments_and_look_alike_keys_stay_as_they_were(tmp_path):
    path = tmp_path / "action.yml"
    path.write_bytes(VARIANT.replace("\n", "\r\n").encode())
    assert run(path, "1.2.3") == 0
    expected = VARIANT.replace(
        "  image: 'Dockerfile'   # built per job", f"  image: '{REF}'   # built per job"
    )
    assert path.read_bytes() == expected.replace("\n", "\r\n").encode()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("name: x\nruns:\n  using: node24\n  main: index.js\n", "no `image:`"),
        ("name: x\nruns:\n  using: node24\n  image: Dockerfile\n", "only a docker action"),
        ("name: x\nruns:\n  using: docker\n  image: >-\n    Dockerfile\n", "not 'docker://"),
        ("name: x\n", "no top-level `runs:`"),
        ("runs:\n  using: docker\n  image: a\n  image: b\n", "two `image:`"),
    ],
)
def test_an_action_yml_it_cannot_safely_edit_is_left_alone(tmp_path, capsys, text, why):
    path = tmp_path / "action.yml"
    path.write_text(text)
    assert run(path, "1.2.3") == 2
    assert path.read_text() == text
    assert why in capsys.readouterr().err


def test_release_yml_commits_the_rewrite_after_publishing_and_moves_the_tags():
    workflow = parse((ROOT / ".github" / "workflows" / "release.yml").read_text())
    jobs = workflow["jobs"]
    rewriting = [
        job_id for job_id, job in jobs.items()
        for step in job.get("steps") or [] if "scripts/release_action_yml.py" in step.get("run", "")
    ]  # fmt: skip
    assert "build" in rewriting, "check the rewrite before anything is published"
    (committer,) = [
        j for j in rewriting if "git commit" in "".join(s.get("run", "") for s in jobs[j]["steps"])
    ]
    job = jobs[committer]
    assert set(job["needs"]) >= {"pypi", "image"}, "commit only once the image and package are out"
    assert job["permissions"] == {"contents": "write"}
    steps = [s.get("run", "") for s in job["steps"]]
    rewrite = next(i for i, s in enumerate(steps) if "release_action_yml.py" in s)
    push = next(i for i, s in enumerate(steps) if "git" in s and "push -f origin" in s)
    assert rewrite < push
    assert 'git tag -f "$MAJOR"' in steps[push] and 'if [ "$FINAL" = true ]' in steps[push]
    assert '"${refs[@]}"' in steps[push] and 'refs=("refs/tags/v$VERSION")' in steps[push]
