"""Passwords of the platform's own server users: one ``0600`` file per user under a folder.

The layout is the one ``cityiot acl`` uses for Mosquitto (``<folder>/secrets/<user>.password``),
so every server's users are found the same way, and a service is given its password as a file
(``CITYIOT_KAFKA_PASSWORD_FILE``, ``CITYIOT_INFLUXDB_PASSWORD_FILE``) rather than a value.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import CityiotError

__all__ = ["PASSWORD_BYTES", "PasswordDir"]

# 192 bits, URL-safe: no quoting needed in a JAAS line, an InfluxQL string or a URL.
PASSWORD_BYTES = 24


@dataclass(frozen=True)
class PasswordDir:
    """A folder of users' passwords: ``secrets/<user>.password``, 0600, in a 0700 folder."""

    directory: Path

    def secret_file(self, user: str) -> Path:
        return self.directory / "secrets" / f"{user}.password"

    def password(self, user: str) -> str:
        """The user's password.

        Raises:
            CityiotError: no password file for the user (the message names the file).
        """
        try:
            return self.secret_file(user).read_text().strip()
        except FileNotFoundError:
            raise CityiotError(f"no password for {user!r}: {self.secret_file(user)}") from None

    def ensure(self, users: Iterable[str], *, rotate: bool = False) -> None:
        """Create each user's password file if missing (every one if ``rotate``); existing
        passwords are kept, so a second start finds the users the servers already have."""
        folder = self.directory / "secrets"
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        for user in users:
            path = self.secret_file(user)
            if path.exists() and not rotate:
                continue
            # Written to a new 0600 file and renamed: never readable by others, never half-written.
            partial = path.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(PASSWORD_BYTES) + "\n")
            partial.replace(path)
