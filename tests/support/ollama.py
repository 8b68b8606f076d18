"""A loopback Ollama daemon: `GET /api/tags`, `GET /api/version` and `POST /api/chat`.

Enough of Ollama's native API for `kagura-code-reviewer` (which talks to `/api/chat` with
`stream: false` and tool definitions) and for `doctor`'s model listing. What the "model"
answers is scripted: `reply(body) -> message` returns the assistant message
(`{"content": ..., "tool_calls": [...]}`), so a test decides the review it gets.

    with OllamaStandIn(models=["qwen3:8b"], reply=FileReviewer("calc.py", RULES)) as ollama:
        ollama.write_reviewer_config(tmp_path / "kcr.toml")   # for $KAGURA_CODE_REVIEWER_CONFIG

Scripted reviewers (callables over the request body):

- `FileReviewer(path, rules)`: a finder first calls the reviewer's `read_file` tool on
  `path`, then reports one finding per rule whose pattern matches the file's content (the
  line is where it matches), so the verdict depends on the code in the worktree; a
  verifier votes CONFIRMED.
- `StaticReviewer(findings)`: submits the same findings every time.

An unknown model answers 404 as Ollama does ("model ... not found, try pulling it
first"); `garbage=True` answers 200 with a body that is not JSON (a broken proxy), which
makes every finder fail with a non-network error (the reviewer's "Review incomplete").
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kagura_engineer.demo.standin import Request, Response, StandIn, json_response

Message = dict[str, Any]
Reply = Callable[[dict[str, Any]], Message]


def tool_call(name: str, arguments: dict[str, Any]) -> Message:
    """An assistant message calling one tool (Ollama's native shape: arguments as an object)."""
    return {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": name, "arguments": arguments}}]}


def text(content: str) -> Message:
    return {"role": "assistant", "content": content}


def tool_names(body: dict[str, Any]) -> list[str]:
    return [str((t.get("function") or {}).get("name", "")) for t in body.get("tools") or [] if isinstance(t, dict)]


def last_tool_result(body: dict[str, Any]) -> str | None:
    """The content of the most recent `tool` message, if the conversation has one."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "tool":
            return str(message.get("content") or "")
    return None


@dataclass
class Rule:
    """A finding reported when `pattern` (a regex) matches a line of the reviewed file."""

    pattern: str
    title: str
    severity: str = "high"
    dimension: str = "correctness"
    rationale: str = "scripted finding"
    suggestion: str = "fix it"


@dataclass
class FileReviewer:
    """Finders read `path` through the reviewer's own tool, then judge its content."""

    path: str
    rules: Sequence[Rule]
    verdict: str = "CONFIRMED"
    reads: list[str] = field(default_factory=list)  # file contents the finders were given

    def findings(self, content: str) -> list[dict[str, Any]]:
        found = []
        lines = content.splitlines()
        for rule in self.rules:
            line = next((i for i, text in enumerate(lines, 1) if re.search(rule.pattern, text)), None)
            if line is not None:
                found.append({
                    "dimension": rule.dimension, "severity": rule.severity, "file": self.path, "line": line,
                    "title": rule.title, "rationale": rule.rationale, "suggestion": rule.suggestion,
                })  # fmt: skip
        return found

    def __call__(self, body: dict[str, Any]) -> Message:
        names = tool_names(body)
        if "submit_verdict" in names:
            return tool_call("submit_verdict", {"verdict": self.verdict, "reason": "scripted"})
        if "submit_findings" not in names:
            return text("ok")
        content = last_tool_result(body)
        if content is None:
            return tool_call("read_file", {"path": self.path})
        self.reads.append(content)
        return tool_call("submit_findings", {"findings": self.findings(content)})


@dataclass
class StaticReviewer:
    """Every finder submits `findings` at once; verifiers vote `verdict`."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = "CONFIRMED"

    def __call__(self, body: dict[str, Any]) -> Message:
        names = tool_names(body)
        if "submit_verdict" in names:
            return tool_call("submit_verdict", {"verdict": self.verdict})
        if "submit_findings" in names:
            return tool_call("submit_findings", {"findings": self.findings})
        return text("ok")


class OllamaStandIn(StandIn):
    """A scripted Ollama daemon on 127.0.0.1."""

    name = "ollama"

    def __init__(
        self,
        models: Sequence[str] = ("qwen3:8b",),
        reply: Reply | None = None,
        *,
        garbage: bool = False,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.models = list(models)
        self.reply: Reply = reply or StaticReviewer()
        self.garbage = garbage

    def chat_requests(self) -> list[Request]:
        return self.requests_matching("POST", r"^/api/chat$")

    def write_reviewer_config(self, path: str | Path, model: str | None = None) -> Path:
        """A kagura-code-reviewer config.toml whose default alias is this daemon's model."""
        model = model or self.models[0]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            'default_alias = "standin"\n\n'
            f'[models.standin]\nollama_model = "{model}"\nbase_url = "{self.url}/v1"\nnum_ctx = 8192\n\n'
            f'[models.review-local]\nollama_model = "{model}"\nbase_url = "{self.url}/v1"\nnum_ctx = 8192\n',
            encoding="utf-8",
        )
        return path

    # -- serving ---------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.method in ("GET", "HEAD") and req.path in ("/", ""):
            return Response(200, "Ollama is running")
        if req.method == "GET" and req.path == "/api/version":
            return json_response({"version": "0.12.0"})
        if req.method == "GET" and req.path == "/api/tags":
            return json_response({"models": [self._model_json(n) for n in self.models]})
        if req.method == "POST" and req.path == "/api/chat":
            return self._chat(req)
        return Response(404, "404 page not found")

    def _model_json(self, name: str) -> dict[str, Any]:
        family = name.split(":")[0]
        return {
            "name": name, "model": name, "modified_at": "2025-01-01T00:00:00Z", "size": 5_225_388_164,
            "digest": "0" * 64,
            "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                        "parameter_size": "8.2B", "quantization_level": "Q4_K_M"},
        }  # fmt: skip

    def _chat(self, req: Request) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            return json_response({"error": "invalid request body"}, status=400)
        model = str(body.get("model") or "")
        if model not in self.models:
            return json_response({"error": f'model "{model}" not found, try pulling it first'}, status=404)
        if self.garbage:
            return Response(200, "<html>upstream proxy error</html>", {"Content-Type": "application/json"})
        message = {"role": "assistant", "content": "", **self.reply(body)}
        for call in message.get("tool_calls") or []:
            args = call.get("function", {}).get("arguments")
            if isinstance(args, str):  # Ollama always sends arguments as an object
                call["function"]["arguments"] = json.loads(args or "{}")
        answer = {
            "model": model, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
            "message": message, "done_reason": "stop", "done": True, "total_duration": 1_000_000,
            "load_duration": 1000, "prompt_eval_count": 100, "prompt_eval_duration": 1000,
            "eval_count": 20, "eval_duration": 1000,
        }  # fmt: skip
        if body.get("stream", True):
            return Response(200, json.dumps(answer) + "\n", {"Content-Type": "application/x-ndjson"})
        return json_response(answer)
