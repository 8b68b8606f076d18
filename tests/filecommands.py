"""GITHUB_OUTPUT / GITHUB_STATE files read exactly as the runner's FileCommandManager reads
them (NAME=value, or NAME<<DELIMITER … DELIMITER), shared by the action, e2e and container tests."""

from __future__ import annotations


def parse_file_commands(text: str) -> dict[str, str]:
    """Parse GITHUB_OUTPUT / GITHUB_STATE as the runner's FileCommandManager does."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    if text and not text.endswith("\n"):
        raise ValueError("EOF marker missing new line")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            name, value = line.split("=", 1)
            values[name] = value
        elif heredoc >= 0:
            name, delimiter = line.split("<<", 1)
            if not name or not delimiter:
                raise ValueError(f"invalid format {line!r}")
            value_lines = []
            while True:
                if i >= len(lines) or (i == len(lines) - 1 and lines[i] == ""):
                    raise ValueError(f"Matching delimiter not found {delimiter!r}")
                current = lines[i]
                i += 1
                if current == delimiter:
                    break
                value_lines.append(current)
            values[name] = "\n".join(value_lines)
        else:
            raise ValueError(f"invalid format {line!r}")
    return values
