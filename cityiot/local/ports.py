"""Loopback ports: ask the OS for a free one, check that one is free, wait for one to free up."""

from __future__ import annotations

import socket
import time

__all__ = ["free_port", "port_is_free", "wait_port_free"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port the OS just had free on loopback (tests use it; race-free enough on one machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port and we could bind it ourselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port in TIME_WAIT from a server we just stopped counts as free, as it
        # does for the servers themselves (they all set it).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_port_free(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_is_free(port):
            return True
        time.sleep(0.05)
    return port_is_free(port)
