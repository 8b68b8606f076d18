"""proc: argv only, timeouts that kill the whole group, an env allow-list, redaction."""

from __future__ import annotations

import os
import sys
import time

import pytest

from kagura_engineer import proc
from kagura_engineer.errors import ProcError


def test_argv_must_be_a_list():
    with pytest.raises(TypeError):
        proc.run("echo hi")  # type: ignore[arg-type]


def test_missing_executable_is_a_result_not_a_crash():
    result = proc.run(["definitely-not-a-real-binary-xyz"])
    assert result.returncode == 127 and not result.ok
    with pytest.raises(ProcError, match="exited 127"):
        result.check()


def test_untrusted_text_is_never_interpreted_by_a_shell(tmp_path):
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); `touch {marker}`"
    result = proc.run(["echo", hostile])
    assert result.stdout.strip() == hostile and not marker.exists()


def test_timeout_kills_the_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    script = f"import subprocess,sys,time; p=subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']); open({str(pidfile)!r},'w').write(str(p.pid)); time.sleep(60)"
    start = time.monotonic()
    result = proc.run([sys.executable, "-c", script], timeout=1.5)
    assert result.timed_out and not result.ok
    assert time.monotonic() - start < 30
    child = int(pidfile.read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("grandchild survived the timeout")
    with pytest.raises(ProcError, match="timed out"):
        result.check()


def test_env_is_an_allow_list(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_" + "a" * 36)
    monkeypatch.setenv("GIT_DIR", "/somewhere/else")
    monkeypatch.setenv("LANG", "C.UTF-8")
    code = "import os,json; print(json.dumps(dict(os.environ)))"
    import json

    env = json.loads(proc.run([sys.executable, "-c", code]).stdout)
    assert "GITHUB_TOKEN" not in env and "GIT_DIR" not in env and env.get("LANG") == "C.UTF-8"
    env = json.loads(proc.run([sys.executable, "-c", code], passthrough=["GITHUB_TOKEN"], env={"X": "1"}).stdout)
    assert env["GITHUB_TOKEN"].startswith("ghs_") and env["X"] == "1"


@pytest.mark.parametrize(
    "secret",
    [
        "ghp_" + "A1b2" * 9,
        "ghs_" + "Z9" * 18,
        "github_pat_" + "x" * 40,
        "sk-ant-api03-" + "q" * 30,
        "kagura_" + "k" * 43,
    ],
)
def test_known_secret_shapes_are_redacted(secret):
    assert secret not in proc.redact(f"token is {secret} ok")
    assert "***" in proc.redact(secret)


def test_registered_values_headers_and_url_credentials_are_redacted():
    proc.register_secret("plain-looking-value-123")
    text = proc.redact(
        "a plain-looking-value-123 b\nAuthorization: Bearer abc.def\n"
        "x-api-key: zzz\nhttps://x-access-token:s3cret@github.com/o/r.git"
    )
    assert "plain-looking-value-123" not in text and "abc.def" not in text
    assert "zzz" not in text and "s3cret" not in text and "github.com/o/r.git" in text


def test_error_tail_is_redacted():
    secret = "ghp_" + "S" * 36
    result = proc.run([sys.executable, "-c", f"import sys; sys.stderr.write('bad {secret}\\n'); sys.exit(3)"])
    with pytest.raises(ProcError) as exc:
        result.check("tool")
    assert secret not in str(exc.value) and "exited 3" in str(exc.value)
