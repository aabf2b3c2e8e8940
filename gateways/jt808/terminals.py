"""Which terminal is which platform device, and the authentication codes the gateway hands out.

**The mapping file** (``CITYIOT_GATEWAY_MAPPING_PATH``), a CSV with the header
``phone,device_id,terminal_id``: the terminal's phone number (its SIM's number as the header
carries it, padding zeros optional: ``13306139197``, ``013306139197``), the registry's device id,
and optionally the terminal id the terminal sends when it registers; when given, a registration
with another terminal id is refused (a SIM moved into another box). A terminal missing from the
file is refused at registration and authentication. Without a file every terminal is accepted,
its device id being its phone number without padding zeros (register ``13306139197``).
The device registry itself is not changed: the collectors still check each device against it
(vendor, facility), as for any MQTT publisher.

**Authentication codes.** JT/T 808 has no cryptography: a terminal registers once (0x0100), keeps
the code the platform answers (0x8100) and presents it at every connection (0x0102). The gateway
derives the code from the phone number with HMAC-SHA256 under ``CITYIOT_GATEWAY_AUTH_SECRET``,
so every replica and every restart issues and accepts the same code with no shared store. Without
a secret a random one is drawn at start: terminals then register again after a restart, as the
standard has them do when authentication fails. ``CITYIOT_GATEWAY_AUTH=open`` accepts any code
(commissioning, terminals with a code burnt in).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import CityiotError
from gateways.jt808.codec import normalise_phone
from schemas.topic import DEVICE_ID_PATTERN

__all__ = ["AuthCodes", "AuthPolicy", "MappingError", "Terminal", "TerminalDirectory"]

AuthPolicy = Literal["code", "open"]

MAPPING_COLUMNS = ("phone", "device_id", "terminal_id")
# 16 hex digits: 64 bits, far beyond guessing over TCP, short enough for terminals that keep the
# code in a small field.
AUTH_CODE_CHARS = 16
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


class MappingError(CityiotError):
    """The mapping file cannot be used; the message names the file, line and column."""


@dataclass(frozen=True, slots=True)
class Terminal:
    """A terminal the gateway accepts: its phone number (no padding zeros) and device id."""

    phone: str
    device_id: str
    terminal_id: str | None = None


class TerminalDirectory:
    """Terminals by phone number; ``None`` for an open directory (device id = phone number)."""

    def __init__(self, terminals: Iterable[Terminal] | None = None) -> None:
        self._open = terminals is None
        self._by_phone: dict[str, Terminal] = {}
        for terminal in terminals or ():
            self._by_phone[terminal.phone] = terminal

    def __len__(self) -> int:
        return len(self._by_phone)

    def lookup(self, phone: str) -> Terminal | None:
        """The terminal of ``phone`` (the header's BCD digits), or None if it is not accepted."""
        phone = normalise_phone(phone)
        if self._open:
            return Terminal(phone=phone, device_id=phone)
        return self._by_phone.get(phone)

    @classmethod
    def load(cls, path: Path | None) -> TerminalDirectory:
        """Read the mapping file; None gives the open directory.

        Raises:
            MappingError: Unreadable file, missing column, bad phone or device id, duplicates.
        """
        if path is None:
            return cls()
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise MappingError(f"{path}: cannot read: {exc.strerror or exc}") from None
        reader = csv.DictReader(text.splitlines())
        missing = [c for c in MAPPING_COLUMNS[:2] if c not in (reader.fieldnames or ())]
        if missing:
            raise MappingError(f"{path}: missing column(s) {missing}; header: phone,device_id")
        terminals: list[Terminal] = []
        phones: set[str] = set()
        devices: set[str] = set()
        for line, row in enumerate(reader, start=2):
            terminal = _terminal(row, f"{path}:{line}")
            if terminal.phone in phones:
                raise MappingError(f"{path}:{line}: phone: {terminal.phone} appears twice")
            if terminal.device_id in devices:
                raise MappingError(f"{path}:{line}: device_id: {terminal.device_id} appears twice")
            phones.add(terminal.phone)
            devices.add(terminal.device_id)
            terminals.append(terminal)
        return cls(terminals)


def _terminal(row: dict[str, str | None], where: str) -> Terminal:
    phone = (row.get("phone") or "").strip()
    device_id = (row.get("device_id") or "").strip()
    terminal_id = (row.get("terminal_id") or "").strip() or None
    # 2019 numbers have 20 digits.
    if not phone.isdigit() or len(phone) > 20:
        raise MappingError(f"{where}: phone: expected up to 20 digits, got {phone!r}")
    if not _DEVICE_ID.fullmatch(device_id):
        raise MappingError(f"{where}: device_id: expected {DEVICE_ID_PATTERN}, got {device_id!r}")
    return Terminal(phone=normalise_phone(phone), device_id=device_id, terminal_id=terminal_id)


class AuthCodes:
    """Issues and checks authentication codes (see the module's docstring)."""

    def __init__(self, secret: bytes | None, *, policy: AuthPolicy = "code") -> None:
        self._secret = secret if secret else secrets.token_bytes(32)
        self.policy = policy

    def issue(self, phone: str) -> str:
        digest = hmac.new(self._secret, normalise_phone(phone).encode(), hashlib.sha256)
        return digest.hexdigest()[:AUTH_CODE_CHARS]

    def check(self, phone: str, code: str) -> bool:
        if self.policy == "open":
            return True
        return hmac.compare_digest(self.issue(phone), code)
