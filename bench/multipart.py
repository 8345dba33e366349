"""CPU time to read a ``multipart/form-data`` body: ours (``oauth/_multipart.py``: our framing,
the standard library's header parser per part) against the standard library's whole email feed
parser on the same body, for PHP's curl request and for hostile bodies of the service's default
64 KiB limit. Each figure is the best of ``--rounds`` runs; the service reads a body on its event
loop, so this is time no other request on that worker gets.

    python bench/multipart.py [--rounds 5] [--size 65536]
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import email.policy
import time
from collections.abc import Callable

from tokensmith.oauth import InvalidRequest, form_parser

BOUNDARY = "------------------------74bea3afce3fa0b5"


def bodies(size: int) -> dict[str, bytes]:
    """The measured bodies, each about ``size`` bytes but the first."""
    dash = b"--" + BOUNDARY.encode()

    def part(name: bytes, headers: bytes, value: bytes) -> bytes:
        return dash + b'\r\nContent-Disposition: form-data; name="' + name + b'"' + headers + value

    php = b"".join(
        part(name, b"\r\n\r\n", value + b"\r\n")
        for name, value in [
            (b"client_id", b"ro.client"),
            (b"grant_type", b"id_auth"),
            (b"client_secret", b"secret"),
            (b"scope", b"api api2"),
            (b"id_token", b"eyJ" + b"x" * 600),
        ]
    )
    one = len(part(b"a", b"\r\n\r\n", b"v\r\n"))
    return {
        "PHP's request (5 fields)": php + dash + b"--\r\n",
        "one 64 KiB parameter list": part(b"a", b";" * size, b"\r\n\r\nv\r\n") + dash + b"--\r\n",
        "parts of one byte each": part(b"a", b"\r\n\r\n", b"v\r\n") * (size // one) + dash + b"--",
        "a value of bare newlines": part(b"a", b"\r\n\r\n", b"\n" * size + b"\r\n") + dash + b"--",
        "nested parts": b"".join(
            b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
            for i in range(size // 50)
        ),
    }


def ours(body: bytes) -> None:
    boundary = BOUNDARY if not body.startswith(b"--b0") else "b0"
    with contextlib.suppress(InvalidRequest):
        form_parser(f"multipart/form-data; boundary={boundary}")(body)


def feed_parser(body: bytes) -> None:
    boundary = BOUNDARY if not body.startswith(b"--b0") else "b0"
    head = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\n\r\n'.encode()
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head + body)
    for item in message.walk():
        item.get_param("name", header="content-disposition")


def best(run: Callable[[bytes], None], body: bytes, rounds: int) -> str:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            run(body)
        except RecursionError:
            return "RecursionError"
        times.append(time.perf_counter() - start)
    return f"{min(times) * 1000:9.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=64 * 1024)
    args = parser.parse_args()
    print(f"{'body':28} {'bytes':>7} {'ours':>14} {'email feed parser':>18}")
    for name, body in bodies(args.size).items():
        print(
            f"{name:28} {len(body):7} {best(ours, body, args.rounds):>14} "
            f"{best(feed_parser, body, args.rounds):>18}"
        )


if __name__ == "__main__":
    main()
