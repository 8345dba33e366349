"""The README's shell snippet for `ACCESS_TOKEN=$(tokensmith token …)` stops on a failure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Answer, FakeOAuth

README = Path(__file__).resolve().parents[2] / "README.md"


def snippet() -> str:
    """The README's bash block that assigns ACCESS_TOKEN from `tokensmith token`."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    (block,) = [b for b in blocks if "ACCESS_TOKEN=$(tokensmith token" in b]
    return block


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """PATH with `tokensmith` (this checkout's CLI) and a `curl` that records its call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tokensmith").write_text(f'#!/bin/sh\nexec {sys.executable} -m tokensmith "$@"\n')
    (bin_dir / "curl").write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "curl-called"}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "TOKENSMITH_PROFILES": str(tmp_path / "profiles.toml"),
        "TRUPHONE_SECRET": "s3cret-readme",
    }


def run_snippet(
    fake: FakeOAuth, tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "profiles.toml").write_text(
        f'[truphone]\ntoken_url = "{fake.token_url}"\nclient_id = "truphone"\n'
        'client_secret_env = "TRUPHONE_SECRET"\n'
    )
    """Run the README's snippet with profile truphone pointing at ``fake``."""
    return subprocess.run(
        ["bash", "-c", snippet()], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_readme_snippet_stops_when_the_token_cannot_be_had(
    make_fake: Callable[..., FakeOAuth], tmp_path: Path, shell_env: dict[str, str]
) -> None:
    """When the token endpoint refuses the client, the script exits 1 and never calls the API."""
    fake = make_fake(lambda f, seen: Answer(401, {"error": "invalid_client"}))

    result = run_snippet(fake, tmp_path, shell_env)

    assert result.returncode == 1
    assert not (tmp_path / "curl-called").exists()


def test_the_readme_snippet_calls_the_api_with_the_token(
    fake: FakeOAuth, tmp_path: Path, shell_env: dict[str, str]
) -> None:
    """With a token, the script passes it to curl."""
    result = run_snippet(fake, tmp_path, shell_env)

    assert result.returncode == 0, result.stderr
    (issued,) = fake.valid
    assert f"Authorization: Bearer {issued}" in (tmp_path / "curl-called").read_text()


def test_export_of_a_failing_substitution_does_not_stop_set_e() -> None:
    """The README's warning holds: `export X=$(false)` does not stop `set -e`."""
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\nexport X=$(false)\necho went-on"],
        capture_output=True,
        text=True,
        timeout=10,
    )

    assert result.stdout.strip() == "went-on"
