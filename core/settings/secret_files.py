"""Secrets read from files: the ``*_FILE`` convention of the settings.

A secret setting ``X`` may come with a ``X_FILE`` setting naming a file that holds it
(``CITYIOT_KAFKA_PASSWORD_FILE=/run/secrets/kafka-password``): a mounted Kubernetes Secret, a
Compose secret, a ``0600`` file of the local runner. The file is read once, when the settings are
built, so a missing or empty file fails at start naming its variable; the value replaces ``X``
(the file wins over the variable: it is what the platform mounts). Surrounding whitespace, such
as the newline an editor or ``kubectl create secret --from-file`` leaves, is dropped.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

__all__ = ["read_secret_file"]

# Far more than any password or token; a larger file is the wrong file (a key, a dump).
MAX_SECRET_BYTES = 64 * 1024


def read_secret_file(path: Path, variable: str) -> SecretStr:
    """The secret in ``path``, for the setting whose variable is ``variable``.

    Raises:
        ValueError: the file cannot be read, is empty or too large (the message names the
            variable and the path, never the content).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_SECRET_BYTES:
        raise ValueError(f"{variable}: {path} is larger than {MAX_SECRET_BYTES} bytes")
    try:
        text = raw.decode().strip()
    except UnicodeDecodeError:
        raise ValueError(f"{variable}: {path} is not UTF-8 text") from None
    if not text:
        raise ValueError(f"{variable}: {path} is empty")
    return SecretStr(text)
