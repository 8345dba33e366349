"""What `tokensmith token` and `import tokensmith.client` load: nothing the common path does not
need (joserfc and cryptography only for private_key_jwt, the server's stack never)."""

from __future__ import annotations

import os
import subprocess
import sys

from tokensmith.oauth import PrivateKey, generate_key

from .conftest import FakeOAuth

HEAVY = ("joserfc", "cryptography", "starlette", "sqlalchemy", "uvicorn", "asyncio")


def loaded_after(code: str, **env: str) -> set[str]:
    """The top-level packages loaded by a fresh interpreter running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split("\n")[-2].split())


def test_importing_the_client_loads_neither_httpx_nor_joserfc() -> None:
    """`import tokensmith` and `import tokensmith.client` defer every heavy import."""
    loaded = loaded_after("import tokensmith, tokensmith.client")

    assert not loaded & {"httpx", *HEAVY}


def test_token_help_loads_no_http_client() -> None:
    """`tokensmith token --help` loads neither httpx nor joserfc nor the server's stack."""
    code = (
        "import contextlib\nfrom tokensmith.cli import main\n"
        "with contextlib.suppress(SystemExit):\n    main(['token', '--help'])"
    )

    loaded = loaded_after(code)

    assert not loaded & {"httpx", *HEAVY}


def test_a_token_call_loads_no_jose_and_no_server(fake: FakeOAuth) -> None:
    """A real `tokensmith token` call with a client secret loads httpx, but neither joserfc,
    cryptography nor the server's stack."""
    code = (
        "from tokensmith.cli import main\n"
        f"assert main(['token', '--token-url', {fake.token_url!r}, '--client-id', 'svc', "
        "'--client-secret-env', 'LAZY_SECRET']) == 0"
    )

    loaded = loaded_after(code, LAZY_SECRET="s3cret-lazy")

    assert "httpx" in loaded
    assert not loaded & set(HEAVY[:-1])
    assert len(fake.token_requests) == 1


def test_private_key_stands_for_joserfc_keys() -> None:
    """PrivateKey, imported without joserfc, still answers isinstance for the keys it names."""
    assert isinstance(generate_key("ES256"), PrivateKey)
    assert not isinstance("a PEM string", PrivateKey)
