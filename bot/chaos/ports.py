"""Loopback addresses for everything the drills start: the sandbox, the stand-ins, the bot.

Every listener binds 127.0.0.1 only. A port is picked by binding port 0; `get_free_ports`
holds its probes open until all are picked, so no two services are handed the same one.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack

HOST = "127.0.0.1"


def bind_loopback(host: str = HOST) -> socket.socket:
    """A socket bound to a free port on `host`, for a server to listen on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def get_free_ports(count: int) -> list[int]:
    """`count` distinct free ports, for services that bind them themselves."""
    with ExitStack() as stack:
        probes = [stack.enter_context(bind_loopback()) for _ in range(count)]
        return [int(probe.getsockname()[1]) for probe in probes]
