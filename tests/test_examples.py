"""The programs in examples/ run as written against `tokensmith serve --demo`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("script", "env"),
    [
        ("demo_token.py", {}),
        ("truphone_client.py", {"TRUPHONE_CLIENT_SECRET": "xxxxxx-xxxx-43f3-9fba-85686d72c1c0"}),
        ("trulioo_client.py", {"TRULIOO_CLIENT_SECRET": "12345;"}),
    ],
)
def test_example_runs(demo: tuple[str, str], script: str, env: dict[str, str]) -> None:
    """The example exits 0 and prints what it promises."""
    base, _ = demo
    full = {**os.environ, **env, "TRUPHONE_URL": base, "TRULIOO_URL": base}

    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), base],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip()


def test_protected_api_example_shows_valid_expired_renewed() -> None:
    """The protected-API example: 200, then 401 invalid_token, then 200 with a renewed token."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "protected_api.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1. with a fresh token: 200")
    assert lines[1].startswith("2. the same token later: 401")
    assert 'error="invalid_token"' in lines[1]
    assert lines[2].startswith("3. with the self-renewing client: 200")
