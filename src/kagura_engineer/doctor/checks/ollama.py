"""ollama: the daemon at `ollama_url` answers and lists every `review.models` entry."""

from __future__ import annotations

from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok, skipped
from kagura_engineer.doctor.ollama_api import OllamaUnavailable, find_installed, list_models


def check(ctx: DoctorContext) -> Outcome:
    wanted = list(ctx.config.review.models)
    if not wanted:
        return skipped("no review.models configured (local review models are optional)")
    url = ctx.config.ollama_url
    with ctx.http() as http:
        try:
            installed = list_models(http, url)
        except OllamaUnavailable as exc:
            return fail(exc.message, "start the daemon (`ollama serve`); install it with kagura-engineer setup --fix ollama")
    found = {m: find_installed(m, installed) for m in wanted}
    missing = [m for m, have in found.items() if have is None]
    if missing:
        pulls = " && ".join(f"ollama pull {m}" for m in missing)
        return fail(f"daemon at {url} lacks {', '.join(missing)}", f"{pulls} (or kagura-engineer setup --fix ollama-models)")
    shown = ", ".join(m if have == m else f"{m} (as {have})" for m, have in found.items())
    return ok(f"daemon at {url} has {shown}")
