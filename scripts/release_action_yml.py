#!/usr/bin/env python3
"""Point a release's action.yml at the image that release publishes.

    python scripts/release_action_yml.py 1.4.2 [--image ghcr.io/kagura-ai/kagura-engineer] [--file action.yml]

On main, `runs.image` is `Dockerfile`: every job builds the image. A tagged release instead
uses `docker://<image>:<version>`, pulled ready-made. This rewrites that one value in place,
leaving every other byte (comments, order, quoting, layout) as it was, then reads the file
back and refuses to write unless `runs.image` is the new value and nothing else changed.
Running it again with the same version changes nothing. Exit codes: 0 written or already
so, 2 refused (a version that is not X.Y.Z[aN|bN|rcN], or an action.yml it cannot edit).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_IMAGE = "ghcr.io/kagura-ai/kagura-engineer"
#: What the release workflow tags: `v` + the package version, a final or a pre-release.
_N = r"(?:0|[1-9]\d*)"  # a number without leading zeros
VERSION = re.compile(rf"^v?(?P<version>{_N}\.{_N}\.{_N}(?:(?:a|b|rc){_N})?)$")
IMAGE_NAME = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\.[a-z0-9-]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+$"
)
TOP_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*):")
# `image: value  # comment`, the value plain or quoted.
IMAGE_LINE = re.compile(
    r"^(?P<lead>(?P<indent>[ ]+)image:[ ]*)"
    r"(?P<value>'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\"|[^#\s][^#]*?)"
    r"(?P<trail>[ \t]*(?:#.*)?)$"
)


class Refused(Exception):
    """The rewrite cannot be done safely; the file is left untouched."""


def image_ref(version: str, image: str = DEFAULT_IMAGE) -> str:
    """`docker://<image>:<version>` for a release version (a leading `v` is dropped)."""
    match = VERSION.fullmatch(version)
    if not match:
        raise Refused(f"{version!r} is not a release version (X.Y.Z, or X.Y.Z with aN, bN or rcN)")
    if not IMAGE_NAME.fullmatch(image):
        raise Refused(f"{image!r} is not an image name such as {DEFAULT_IMAGE}")
    return f"docker://{image}:{match['version']}"


def rewrite(text: str, ref: str) -> str:
    """`text` with the value of `runs.image` replaced by `ref`, every other byte kept."""
    lines = re.split(r"(?<=\n)", text)
    runs = [i for i, line in enumerate(lines) if (m := TOP_KEY.match(line)) and m["key"] == "runs"]
    if len(runs) != 1:
        raise Refused(
            "action.yml has no top-level `runs:` block" if not runs else "action.yml has two `runs:` keys"
        )
    start = runs[0] + 1
    end = next((i for i in range(start, len(lines)) if TOP_KEY.match(lines[i])), len(lines))
    body = [i for i in range(start, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")]
    if not body:
        raise Refused("`runs:` is empty")
    indent = len(lines[body[0]]) - len(lines[body[0]].lstrip(" "))
    found = []
    for i in body:
        line = lines[i].rstrip("\r\n")
        match = IMAGE_LINE.match(line)
        if match and len(match["indent"]) == indent:
            found.append((i, match))
    if len(found) != 1:
        raise Refused("`runs:` has no `image:` key" if not found else "`runs:` has two `image:` keys")
    i, match = found[0]
    quote = match["value"][0] if match["value"][0] in "'\"" else ""
    newline = lines[i][len(lines[i].rstrip("\r\n")) :]
    lines[i] = f"{match['lead']}{quote}{ref}{quote}{match['trail']}{newline}"
    return "".join(lines)


def _load(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Refused(f"action.yml is not valid YAML: {exc}") from None


def validate(before: str, after: str, ref: str) -> None:
    """Refuse unless `after` is `before` with only `runs.image` set to `ref`."""
    old, new = _load(before), _load(after)
    if not isinstance(new, dict) or not isinstance(new.get("runs"), dict):
        raise Refused("the result has no `runs:` mapping")
    if new["runs"].get("using") != "docker":
        raise Refused(f"runs.using is {new['runs'].get('using')!r}: only a docker action runs an image")
    if new["runs"].get("image") != ref:
        raise Refused(f"the result's runs.image is {new['runs'].get('image')!r}, not {ref!r}")
    new["runs"]["image"] = old["runs"].get("image")
    if new != old:
        raise Refused("the rewrite changed more than runs.image")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", help="the release version, e.g. 1.4.2 or v1.4.2rc1")
    parser.add_argument(
        "--image", default=DEFAULT_IMAGE, help=f"the published image (default {DEFAULT_IMAGE})"
    )
    parser.add_argument("--file", type=Path, default=Path("action.yml"), help="the action.yml to rewrite")
    args = parser.parse_args(argv)
    try:
        ref = image_ref(args.version, args.image)
        try:
            before = args.file.read_bytes().decode("utf-8")  # bytes: keep \r\n line ends as they are
        except OSError as exc:
            raise Refused(f"cannot read it: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise Refused("not UTF-8 text") from None
        after = rewrite(before, ref)
        validate(before, after, ref)
    except Refused as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    if after == before:
        print(f"{args.file}: runs.image is already {ref}; nothing changed")
        return 0
    args.file.write_bytes(after.encode("utf-8"))
    print(f"{args.file}: runs.image -> {ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
