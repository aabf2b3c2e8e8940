"""URL checks shared by the settings sections."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["http_url"]


def http_url(value: str) -> str:
    """``value`` without a trailing slash, if it is an http(s) URL with a host.

    Raises:
        ValueError: another scheme or no host (the URL itself is not echoed: it may hold a
            password).
    """
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected http://host:port or https://host:port")
    return value.rstrip("/")
