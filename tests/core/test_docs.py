"""The README and docs/: short enough to read, links that lead somewhere, an install that works.

The README is also the package page on PyPI, where relative links break, so its links to
repository files are absolute (`https://github.com/kagura-ai/kagura-engineer/blob/main/...`);
those are checked against this checkout like the relative links in docs/. The name
`kagura-engineer` on PyPI belongs to another project, so no install command may fetch it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

import kagura_engineer
from kagura_engineer.doctor.checks.actions import APP_TOKEN_DOCS, APP_TOKEN_EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
REPO_URL = re.compile(r"^https://github\.com/kagura-ai/kagura-engineer/(?:blob|tree)/main/(?P<path>[^#?]*)")
MAX_README_LINES = 250
#: An install of the bare name (any extras) from the package index: that is the other project.
PYPI_INSTALL = re.compile(
    r"\b(?:pip|pipx|uv(?: pip| tool)?)\s+install\s+(?:-\S+\s+)*['\"]?kagura-engineer\b(?!\.)"
)

_md = MarkdownIt("commonmark").enable("table")


def slug(text: str) -> str:
    """GitHub's anchor for a heading's text."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor in a markdown file (duplicates numbered as GitHub does)."""
    tokens = _md.parse(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        text = "".join(c.content for c in inline.children or () if c.type in ("text", "code_inline"))
        base = slug(text)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(path: Path) -> list[str]:
    """Every link target in a markdown file (not those inside code)."""
    found = []
    for token in _md.parse(path.read_text(encoding="utf-8")):
        for child in token.children or ():
            if child.type == "link_open":
                found.append(str(child.attrs["href"]))
    return found


def target(source: Path, href: str) -> tuple[Path, str] | None:
    """The repository file (or folder) and anchor a link points at; None for other sites."""
    href_path, _, anchor = href.partition("#")
    match = REPO_URL.match(href)
    if match:
        return ROOT / match["path"], anchor
    if re.match(r"^[a-z][a-z0-9+.-]*:", href):
        return None
    return (source if not href_path else source.parent / href_path), anchor


def broken(source: Path) -> list[str]:
    """The links in `source` that lead to no file in this checkout, or to no such heading."""
    problems = []
    for href in links(source):
        found = target(source, href)
        if found is None:
            continue
        path, anchor = found
        resolved = path.resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            problems.append(f"{href}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{href}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    return problems


def section(text: str, title: str) -> str:
    """The text of one `## title` section of a markdown document."""
    match = re.search(rf"^## {re.escape(title)}\n(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no '## {title}' section"
    return match["body"]


def test_the_readme_reads_in_five_minutes() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_to_this_repository_leads_to_a_file_and_heading(doc: Path) -> None:
    assert broken(doc) == []


def test_the_docs_the_readme_names_exist_and_are_linked() -> None:
    names = {p.name for p in DOCS}
    assert {
        "configuration.md",
        "commands.md",
        "memory.md",
        "security.md",
        "github.md",
        "benchmarks.md",
    } <= names
    readme_links = links(README)
    for name in names:
        assert f"https://github.com/kagura-ai/kagura-engineer/blob/main/docs/{name}" in readme_links, name


def test_readme_links_are_absolute_so_they_work_on_the_package_page() -> None:
    relative = [h for h in links(README) if not re.match(r"^[a-z][a-z0-9+.-]*:", h)]
    assert relative == []


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    doc = ROOT / "docs" / "security.md"
    assert target(doc, "github.md#triggers") == (ROOT / "docs" / "github.md", "triggers")
    bad = tmp_path / "bad.md"
    bad.write_text(
        "[a](https://github.com/kagura-ai/kagura-engineer/blob/main/docs/nope.md) "
        f"[b]({ROOT}/docs/github.md#no-such-heading) [c](https://example.com/x.md) "
        "`[d](not-a-link.md)`\n",
        encoding="utf-8",
    )
    assert [p.split(":")[0] for p in broken(bad)] == [
        "https",  # the absolute repository link to a file that does not exist
        f"{ROOT}/docs/github.md#no-such-heading",
    ]


def test_doctor_points_at_a_heading_and_an_example_that_exist() -> None:
    path, _, anchor = APP_TOKEN_DOCS.partition("#")
    assert anchor == "pull-requests-that-run-your-ci"
    assert anchor in anchors(ROOT / path)
    assert (ROOT / APP_TOKEN_EXAMPLE).is_file()
    assert APP_TOKEN_EXAMPLE in (ROOT / "docs" / "github.md").read_text(encoding="utf-8")


def test_github_anchors_follow_githubs_rules() -> None:
    assert slug("Pull requests that run your CI") == "pull-requests-that-run-your-ci"
    assert slug("`kagura-engineer init`") == "kagura-engineer-init"
    assert slug("Not root (a laptop)") == "not-root-a-laptop"
    assert "repoyaml" in anchors(ROOT / "docs" / "configuration.md")


def test_the_quick_start_installs_from_the_clone_not_the_other_pypi_project() -> None:
    quick = section(README.read_text(encoding="utf-8"), "Quick start")
    assert "git clone https://github.com/kagura-ai/kagura-engineer" in quick
    assert "pip install . && kagura-engineer demo" in quick
    assert "pip install -e '.[dev]'" in quick and "bash scripts/install_test_tools.sh && pytest" in quick
    tag = f"git+https://github.com/kagura-ai/kagura-engineer@v{kagura_engineer.__version__}"
    assert f"pipx install {tag}" in quick and f"uv tool install {tag}" in quick


def test_the_readme_workflow_is_the_example_without_its_comment_lines() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(?P<yaml>name: kagura-engineer \(issue label\).*?)```", text, re.S)
    assert block, "the README shows examples/workflows/issue-label.yml"
    example = (ROOT / "examples" / "workflows" / "issue-label.yml").read_text(encoding="utf-8")
    kept = [line for line in example.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert block["yaml"].splitlines() == kept


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_install_command_fetches_the_other_kagura_engineer(doc: Path) -> None:
    assert PYPI_INSTALL.findall(doc.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("command", "fetches_pypi"),
    [
        ("pip install kagura-engineer", True),
        ("pip install 'kagura-engineer[review]'", True),
        ("pipx install kagura-engineer", True),
        ("uv tool install kagura-engineer", True),
        ("pip install -U kagura-engineer", True),
        ("pip install .", False),
        ("pip install '.[review]'", False),
        ("pipx install git+https://github.com/kagura-ai/kagura-engineer@v1.0.0", False),
        ("pip install kagura-engineer.whl", False),
    ],
)
def test_the_pypi_install_pattern(command: str, fetches_pypi: bool) -> None:
    assert bool(PYPI_INSTALL.search(command)) is fetches_pypi
