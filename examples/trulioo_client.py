"""Trulioo: PascalCase token answers, one-hour tokens, renewed in the background.

make run
TRULIOO_CLIENT_SECRET='12345;' .venv/bin/python examples/trulioo_client.py
"""

from __future__ import annotations

import os

import requests

from tokensmith.client import secret_from_env, trulioo

BASE = os.environ.get("TRULIOO_URL", "http://127.0.0.1:8080")

with trulioo(
    "12345x2e0", secret_from_env("TRULIOO_CLIENT_SECRET"), base_url=BASE, background=True
) as tokens:
    session = requests.Session()
    session.auth = tokens.requests_auth()  # requests works too (pip install 'tokensmith[requests]')
    print(session.get(f"{BASE}/health").json())
    print(
        tokens.token()
    )  # Token(fingerprint='…', token_type='bearer', expires_at=…, scope='workflow.studio.api')
