"""The runner: checks run at the same time, and one crash or hang never hides the others."""

from __future__ import annotations

import threading
import time

from kagura_engineer.config import parse_config
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Status, ok
from kagura_engineer.doctor.runner import Check, run_checks
from kagura_engineer.errors import NeedsUserError


def _ctx() -> DoctorContext:
    return DoctorContext(parse_config({"profile": "t", "memory_backend": "local"}))


def _timed(name: str, seconds: float, spans: dict[str, tuple[float, float]]) -> Check:
    def func(ctx):
        start = time.monotonic()
        time.sleep(seconds)
        spans[name] = (start, time.monotonic())
        return ok(f"{name} done")

    return Check(name, func, timeout=30)


def test_a_slow_check_does_not_serialize_the_others():
    spans: dict[str, tuple[float, float]] = {}
    checks = [_timed("slow", 2.0, spans)] + [_timed(f"quick{i}", 0.3, spans) for i in range(3)]
    report = run_checks(checks, _ctx())
    assert [r.name for r in report.results] == ["slow", "quick0", "quick1", "quick2"]
    assert all(r.status is Status.OK for r in report.results)
    slow_start, slow_end = spans["slow"]
    for i in range(3):
        start, end = spans[f"quick{i}"]
        # every quick check ran while the slow one was still sleeping
        assert start < slow_end and end < slow_end and slow_start < end


def test_a_hanging_check_times_out_and_the_rest_still_report():
    release = threading.Event()

    def hangs(ctx):
        release.wait(60)
        return ok("never reported")

    try:
        report = run_checks(
            [Check("hangs", hangs, timeout=0.5), Check("fine", lambda ctx: ok("fine"), timeout=5)], _ctx()
        )
    finally:
        release.set()
    hung = report.get("hangs")
    assert hung.status is Status.FAIL and hung.detail == "timed out after 0.5s"
    assert report.get("fine").status is Status.OK
    assert report.exit_code == 1 and report.to_json()["ok"] is False


def test_a_crashing_check_is_a_one_line_fail():
    def crashes(ctx):
        raise ValueError("boom\nsecond line of a long story")

    report = run_checks([Check("crashes", crashes), Check("fine", lambda ctx: ok("fine"))], _ctx())
    crashed = report.get("crashes")
    assert crashed.status is Status.FAIL
    assert crashed.detail == "check crashed: ValueError: boom"
    assert report.get("fine").status is Status.OK


def test_an_expected_error_keeps_its_message_and_hint():
    def needs_login(ctx):
        raise NeedsUserError("no credential", hint="log in first")

    result = run_checks([Check("login", needs_login)], _ctx()).get("login")
    assert (result.status, result.detail, result.hint) == (Status.FAIL, "no credential", "log in first")


def test_details_and_hints_are_redacted():
    token = "ghp_" + "a1" * 18
    report = run_checks([Check("leaky", lambda ctx: ok(f"token {token}", hint=f"use {token}"))], _ctx())
    result = report.get("leaky")
    assert token not in result.detail and token not in (result.hint or "")
    assert "***" in result.detail


def test_a_global_timeout_overrides_each_checks_own():
    release = threading.Event()
    try:
        report = run_checks([Check("slow", lambda ctx: ok(str(release.wait(30))), timeout=60)], _ctx(), timeout=0.3)
    finally:
        release.set()
    assert report.get("slow").detail == "timed out after 0.3s"
