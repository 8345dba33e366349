"""The transport `serve` puts under uvicorn: a response's writes leave as one, never lost, never
after the connection closed."""

from __future__ import annotations

import asyncio
from typing import Any

from tokensmith.server._serve import CoalescingTransport


class Recorded(asyncio.Transport):
    """Stands in for the socket transport: what was written, in which order, and when closed."""

    def __init__(self) -> None:
        super().__init__()
        self.protocol: object = None
        self.events: list[Any] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.events.append(bytes(data))

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def is_closing(self) -> bool:
        return self.closing

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555)}.get(name, default)


def test_the_writes_of_one_turn_leave_as_one_write_on_the_next() -> None:
    async def main() -> list[Any]:
        inner = Recorded()
        transport = CoalescingTransport(inner)
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(memoryview(b"{}"))
        assert inner.events == []  # held during this turn
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        return inner.events

    assert asyncio.run(main()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"next"]


def test_close_sends_what_is_held_first_and_nothing_is_written_after_closing() -> None:
    async def main() -> list[Any]:
        inner = Recorded()
        transport = CoalescingTransport(inner)
        transport.write(b"response")
        transport.close()
        assert transport.is_closing()
        transport.write(b"late")  # e.g. a body sent after the peer went away
        await asyncio.sleep(0)
        return inner.events

    assert asyncio.run(main()) == [b"response", "close"]


def test_everything_else_is_the_wrapped_transport() -> None:
    async def main() -> None:
        inner = Recorded()
        transport = CoalescingTransport(inner)
        assert transport.get_extra_info("peername") == ("127.0.0.1", 5555)
        assert transport.get_extra_info("sockname", "none") == "none"
        assert transport.events is inner.events  # type: ignore[attr-defined]
        transport.set_protocol(asyncio.Protocol())  # not asyncio.Transport's NotImplementedError
        assert isinstance(inner.protocol, asyncio.Protocol)

    asyncio.run(main())
