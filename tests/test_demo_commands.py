"""`tokensmith serve --demo` prints commands a person pastes into another terminal: they appear
only once the service listens, and each works in a fresh shell that has neither the virtual
environment on its PATH nor the service's working directory."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .serve_process import free_port

READY = "Demo realms are ready"
TOKENSMITH = [sys.executable, "-m", "tokensmith"]


def paragraphs(instructions: str) -> list[str]:
    """The printed commands, one paragraph (a comment, then its commands) at a time."""
    text = instructions[instructions.index(READY) :].split("\n\n", 1)[1]
    return [p for p in text.split("\n\n") if p.strip().startswith("#")]


@contextmanager
def demo_service(workdir: Path, argv: list[str]) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``argv`` (a `serve --demo`) started in ``workdir``, its output in a file; stopped after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    log = workdir / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out, stderr=out)
    try:
        yield proc, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_for_instructions(proc: subprocess.Popen[bytes], log: Path) -> str:
    """The service's output once it holds the whole of the demo's instructions."""
    deadline = time.monotonic() + 60
    while True:
        text = log.read_text()
        if READY in text and "/authenticate/v1/connect/token\n" in text:
            return text
        assert proc.poll() is None, text
        assert time.monotonic() < deadline, text
        time.sleep(0.02)


def fresh_shell(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A shell's environment whose PATH holds curl and sed only (no tokensmith, no python), and
    a directory other than the service's to run it in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("curl", "sed"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed"
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:  # how this checkout is installed, not the shell's business
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return env, elsewhere


def claims(jwt: str) -> dict[str, object]:
    payload = jwt.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 3))
    return decoded


@pytest.mark.parametrize(
    "launch",
    ["script", "python-m-2-workers"],
    ids=["tokensmith-script-1-worker", "python-m-2-workers"],
)
def test_each_printed_command_works_in_a_fresh_shell(tmp_path: Path, launch: str) -> None:
    """Started as `make run` starts it (the venv's tokensmith script) or as `python -m
    tokensmith serve --demo --workers 2`, each paragraph of commands it prints, pasted at once
    into a fresh bash without the venv on PATH, in another directory, does what its comment says."""
    workdir = tmp_path / "service"
    workdir.mkdir()
    port = free_port()
    script = Path(sys.executable).with_name("tokensmith")
    if launch == "script":
        assert script.exists(), "the tokensmith script is beside this python"
        argv = [str(script), "serve", "--demo", "--port", str(port)]
    else:
        argv = [*TOKENSMITH, "serve", "--demo", "--port", str(port), "--workers", "2"]
    env, elsewhere = fresh_shell(tmp_path)

    with demo_service(workdir, argv) as (proc, log):
        instructions = wait_for_instructions(proc, log)
        # No wait for the service: what is printed must work as soon as it is printed.
        results = [
            subprocess.run(
                ["/bin/bash", "--norc", "--noprofile"],
                input=paragraph,
                capture_output=True,
                text=True,
                env=env,
                cwd=elsewhere,
                timeout=60,
            )
            for paragraph in paragraphs(instructions)
        ]

    first_token, refreshed, jwks, trulioo, gbg = results
    for result in results:
        assert (result.returncode, result.stderr) == (0, ""), result.args
    assert claims(first_token.stdout.strip())["client_id"] == "truphone"
    assert json.loads(refreshed.stdout)["refresh_token"]
    assert json.loads(jwks.stdout)["keys"]
    assert json.loads(trulioo.stdout)["scope"] == "workflow.studio.api"
    assert claims(json.loads(gbg.stdout)["access_token"])["sub"] == "alice"
    printed = paragraphs(instructions)[-1]
    if launch == "script":
        assert f"`{script} issuer demo-token gbg" in printed
    else:
        assert f"`{sys.executable} -m tokensmith issuer demo-token gbg" in printed
    assert f"--database sqlite:///{workdir}/tokensmith.db`" in printed
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize(("workers", "reuse_port"), [("1", False), ("2", False), ("2", True)])
def test_a_taken_port_prints_no_commands_and_touches_nothing(
    tmp_path: Path, workers: str, reuse_port: bool
) -> None:
    """With the port taken by another process, `serve --demo` says so in one line and exits 1,
    printing no commands (they would reach the other service) and creating no database. That
    holds when the other process listens with SO_REUSEPORT, as `serve --workers 2` does on Linux:
    a second tokensmith must not join its group and take some of its connections."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}

    with socket.socket() as other:
        if reuse_port:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = subprocess.run(
            [*TOKENSMITH, "serve", "--demo", "--port", str(port), "--workers", workers],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: another process listens there already (a "
        "tokensmith started before?); stop it, or choose another port with --port or "
        "TOKENSMITH_PORT\n"
    )
    assert list(tmp_path.iterdir()) == []
