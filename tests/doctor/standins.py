"""A loopback Ollama daemon (`GET /api/tags`) for the doctor and setup tests.

With `fakebin=`, models pulled by a fake `ollama pull NAME` whose OLLAMA_HOST pointed at this
daemon count as installed, the way a real daemon would list what its CLI pulled into it.
"""

from __future__ import annotations

from kagura_engineer.demo.standin import Request, Response, StandIn, json_response


class OllamaStandIn(StandIn):
    name = "ollama"

    def __init__(self, models: list[str] | None = None, fakebin=None) -> None:
        super().__init__()
        self.models = list(models or [])
        self.fakebin = fakebin

    def installed(self) -> list[str]:
        names = list(self.models)
        if self.fakebin is not None:
            for record in self.fakebin.records():
                argv = record["argv"]
                if argv[:2] == ["ollama", "pull"] and record["env"].get("OLLAMA_HOST") == self.url:
                    names.append(argv[2])
        return names

    def handle(self, req: Request) -> Response:
        if req.method == "GET" and req.path == "/api/tags":
            models = [
                {"name": n, "model": n, "size": 4_683_087_332, "digest": "0" * 64, "details": {"format": "gguf"}}
                for n in self.installed()
            ]
            return json_response({"models": models})
        return json_response({"error": "not found"}, status=404)
