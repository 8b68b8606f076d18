# kagura-engineer container action. Classic-builder compatible (no RUN --mount, heredocs,
# or COPY --link). Three stages: the claude binary (npm lives only here), the Python venv,
# and a slim runtime with git, gh, zstd and what `setup` needs to bootstrap a project's
# toolchain (python3-venv, pip; apt-get works at job time).
ARG CLAUDE_CODE_VERSION=2.1.331

FROM debian:bookworm-slim AS claude
ARG CLAUDE_CODE_VERSION
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*
# The CLI is a native executable: keep only the glibc binary for this architecture.
RUN npm install --prefix /opt/claude --no-audit --no-fund --ignore-scripts \
      "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
 && case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) echo "unsupported arch" >&2; exit 1 ;; esac \
 && cp "/opt/claude/node_modules/@anthropic-ai/claude-code-linux-${arch}/claude" /usr/local/bin/claude \
 && chmod 0755 /usr/local/bin/claude \
 && /usr/local/bin/claude --version

FROM debian:bookworm-slim AS venv
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/runtime.txt /build/requirements/runtime.txt
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install -r /build/requirements/runtime.txt
COPY pyproject.toml README.md LICENSE NOTICE /build/
COPY src /build/src
RUN /opt/venv/bin/pip install --no-deps --no-compile /build \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} + \
 && rm -rf /opt/venv/lib/python3*/site-packages/pip /opt/venv/lib/python3*/site-packages/setuptools

FROM debian:bookworm-slim
# apt-get clean: a base without the official image's docker-clean hook keeps every .deb.
# python3-venv and python3-pip: the project's own venv (repo.yaml `setup`), never /opt/venv.
# The package lists are removed here; `setup` fetches them when an apt command first needs them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv python3-pip git gh zstd \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* /usr/share/info/*
# The agent's own account: claude and the checks run as it, never as root (see agent/user.py).
RUN useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kagura-agent
COPY --from=claude /usr/local/bin/claude /usr/local/bin/claude
COPY --from=venv /opt/venv /opt/venv
COPY entrypoint.py /entrypoint.py
RUN chmod 0755 /entrypoint.py && ln -s /entrypoint.py /post-entrypoint.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    DISABLE_AUTOUPDATER=1
ENTRYPOINT ["python3", "/entrypoint.py"]
