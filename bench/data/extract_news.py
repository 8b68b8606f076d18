"""How `pip_news.jsonl` was made: pip 24.2's NEWS.rst (MIT) as one-line memories.

    pip download --no-deps --no-binary :all: pip==24.2 && tar xzf pip-24.2.tar.gz
    python bench/data/extract_news.py pip-24.2/NEWS.rst > bench/data/pip_news.jsonl

Each bullet of the release notes becomes one memory: reST markup removed (roles, links,
literal quotes, issue links), whitespace folded to one line; entries shorter than 40 or
longer than 400 characters and duplicates dropped (the rules of `recall_changelog.jsonl`).
Deterministic: same file, same output.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

LINK = re.compile(r"\(?`(#?[^`<]*?)\s*<[^>]+>`__?\)?")
ROLE = re.compile(r":([a-z]+):`~?([^`]+)`")
LITERAL = re.compile(r"``([^`]+)``|`([^`]+)`")
EMPHASIS = re.compile(r"\*+([^*]+)\*+")


def clean(text: str) -> str:
    text = LINK.sub(lambda m: f"({m.group(1)})" if m.group(1).startswith("#") else m.group(1), text)
    text = ROLE.sub(lambda m: f"PEP {m.group(2)}" if m.group(1) == "pep" else m.group(2), text)
    text = LITERAL.sub(lambda m: m.group(1) or m.group(2), text)
    text = EMPHASIS.sub(r"\1", text)
    return " ".join(text.split())


def entries(lines: list[str]) -> list[str]:
    out: list[str] = []
    current: list[str] | None = None
    for line in lines:
        if line.startswith("- "):
            if current:
                out.append(" ".join(current))
            current = [line[2:]]
        elif current is not None and line.startswith("  ") and line.strip():
            current.append(line.strip())
        elif current is not None and not line.strip():
            continue
        elif current is not None:
            out.append(" ".join(current))
            current = None
    if current:
        out.append(" ".join(current))
    return out


def main() -> int:
    seen: set[str] = set()
    n = 0
    for raw in entries(Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()):
        text = clean(raw)
        if not 40 <= len(text) <= 400 or text.lower() in seen:
            continue
        seen.add(text.lower())
        n += 1
        row = {"id": f"P{n:04d}", "summary": text, "type": "changelog", "tags": ["pip"]}
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
