#!/usr/bin/env bash
# Compile the image's lock (requirements/runtime.txt) from pyproject.toml's runtime
# dependencies (numpy and tokenizers among them), for Linux and Python 3.11 (Debian bookworm's).
# Two-level pins: pyproject.toml states intent, runtime.txt is what the Dockerfile installs.
set -euo pipefail
cd "$(dirname "$0")/.."
uvenv="${TMPDIR:-/tmp}/kagura-uv"
[ -x "$uvenv/bin/uv" ] || { python3 -m venv "$uvenv" && "$uvenv/bin/pip" install -q uv; }
"$uvenv/bin/uv" pip compile pyproject.toml --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 --custom-compile-command "bash scripts/compile_requirements.sh" \
  -o requirements/runtime.txt --quiet
