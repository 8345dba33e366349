"""Unknown client ids cannot fill memory (issue 8 item 14): ids longer than the schema allows
are refused before any lookup, and the ids remembered as unknown stay within a byte budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tokensmith.server import TokensmithApp
from tokensmith.server._state import UnknownIds
from tokensmith.store import clients

from .conftest import FrozenClock, ServerThread, Service, make_settings, run_admin


@pytest.fixture
def app_url(sqlite_url: str) -> Iterator[tuple[TokensmithApp, str]]:
    """The service with realm acme, and no rate limit in the way of many failures."""
    settings = make_settings(sqlite_url, address_auth_limit="100000/minute")
    run_admin(settings, lambda a: a.create_realm("acme"))
    app = TokensmithApp(settings, clock=FrozenClock())
    with ServerThread(app) as server:
        yield app, server.url


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The client ids the service reads from the database, in order."""
    seen: list[str] = []
    original = clients.get_client

    async def counting(conn: Any, realm_id: int, client_id: str) -> Any:
        seen.append(client_id)
        return await original(conn, realm_id, client_id)

    monkeypatch.setattr(clients, "get_client", counting)
    return seen


def post(url: str, client_id: str) -> httpx.Response:
    return httpx.post(
        url + "/realms/acme/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"},
        timeout=10,
    )


def test_a_256_character_id_is_invalid_client_without_a_database_read(
    app_url: tuple[TokensmithApp, str], lookups: list[str]
) -> None:
    """A client id longer than 255 characters gets invalid_client and is never looked up; a
    255-character one is looked up as usual."""
    _, url = app_url

    too_long = post(url, "a" * 256)
    longest = post(url, "b" * 255)

    assert too_long.status_code == 401
    assert too_long.json()["error"] == "invalid_client"
    assert "255" in too_long.json()["error_description"]
    assert longest.status_code == 401
    assert lookups == ["b" * 255]


def test_60_kb_client_ids_do_not_grow_the_cache(
    app_url: tuple[TokensmithApp, str], lookups: list[str]
) -> None:
    """Many requests with distinct 60 KB client ids are refused and leave nothing cached."""
    app, url = app_url

    answers = {post(url, f"{i:05d}" + "x" * 60_000).status_code for i in range(50)}

    assert answers == {401}
    assert len(app.registry.unknown_clients) == 0
    assert lookups == []


def test_unknown_ids_are_remembered_within_a_byte_budget() -> None:
    """Past its budget the cache of unknown ids forgets the oldest, keeping the newest, whatever
    realm they belong to."""
    unknown = UnknownIds(budget=64 * 1024)

    for i in range(10_000):
        unknown.add((i % 7, f"{i:05d}" + "u" * 250))

    assert unknown.size <= 64 * 1024
    assert 0 < len(unknown) < 10_000
    assert (9_999 % 7, f"{9_999:05d}" + "u" * 250) in unknown
    assert (0, f"{0:05d}" + "u" * 250) not in unknown


def test_an_unknown_id_is_read_once(app_url: tuple[TokensmithApp, str], lookups: list[str]) -> None:
    """An unknown id asked for again is answered from memory."""
    _, url = app_url

    codes = [post(url, "nobody").status_code for _ in range(3)]

    assert codes == [401, 401, 401]
    assert lookups == ["nobody"]


def test_a_client_id_with_nul_is_invalid_client_without_a_database_read(
    service: Service, lookups: list[str]
) -> None:
    """A client id holding NUL (which PostgreSQL cannot store) gets invalid_client, never a
    503 or 500, and is not looked up; in the body and in HTTP Basic alike."""
    service.admin(lambda a: a.create_realm("acme"))
    url = service.token_url("acme")

    in_body = service.http.post(
        url,
        data={"grant_type": "client_credentials", "client_id": "svc\x00", "client_secret": "x"},
    )
    in_basic = service.http.post(
        url, data={"grant_type": "client_credentials"}, auth=("svc%00", "x")
    )

    assert (in_body.status_code, in_body.json()["error"]) == (401, "invalid_client")
    assert (in_basic.status_code, in_basic.json()["error"]) == (401, "invalid_client")
    assert lookups == []
