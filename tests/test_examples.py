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
