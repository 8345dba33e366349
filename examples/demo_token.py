"""Get a token from `make run`'s demo realm and verify it against the realm's JWKS.

make run                         # in one terminal
.venv/bin/python examples/demo_token.py [BASE_URL]
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request

from joserfc import jwt
from joserfc.jwk import KeySet

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
realm = f"{base}/auth/realms/tru-staff"
form = urllib.parse.urlencode(
    {
        "grant_type": "client_credentials",
        "client_id": "truphone",
        "client_secret": "xxxxxx-xxxx-43f3-9fba-85686d72c1c0",
    }
).encode()

with urllib.request.urlopen(f"{realm}/protocol/openid-connect/token", data=form) as response:  # noqa: S310
    answer = json.load(response)
with urllib.request.urlopen(f"{realm}/protocol/openid-connect/certs") as response:  # noqa: S310
    keys = KeySet.import_key_set(json.load(response))

token = jwt.decode(answer["access_token"], keys, algorithms=["ES256"])
claims = token.claims
print(f"token for {claims['sub']} from {claims['iss']}, valid {claims['exp'] - claims['iat']} s")
print(f"refresh token valid {answer['refresh_expires_in']} s")
