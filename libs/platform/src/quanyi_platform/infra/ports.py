"""Free TCP ports on the loopback interface."""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["ephemeral_range", "free_port", "port_open"]

_LOWEST = 10_000
_handed_out: set[int] = set()


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections (Linux: /proc/sys/net/ipv4/ip_local_port_range)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing uses right now, never the same twice in a process.

    It lies below the kernel's ephemeral range: the kernel never hands such a port to an outgoing
    connection, so a server about to listen on it cannot find it taken by some process's client socket
    (a Postgres or Kafka connection opened meanwhile), which a port from the ephemeral range can be.
    The port is released before returning; callers bind it right afterwards.
    """
    low, _ = ephemeral_range()
    if low - 1 > _LOWEST:
        for _ in range(500):
            port = random.randint(_LOWEST, low - 1)
            if port not in _handed_out and _bindable(host, port):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # no room below it: any free port
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
