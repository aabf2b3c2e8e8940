"""Which terminal is which device (the mapping file), and the authentication codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateways.jt808.terminals import AuthCodes, MappingError, Terminal, TerminalDirectory


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terminals.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_mapping_finds_a_terminal_by_either_editions_number(tmp_path: Path) -> None:
    """Padding zeros do not matter: 12 digits (2013), 20 digits (2019), or none in the file."""
    path = _mapping(
        tmp_path,
        "phone,device_id,terminal_id\n013306139197,BUS-0001,T000123\n13900000001,BUS-0002,\n",
    )
    directory = TerminalDirectory.load(path)
    assert len(directory) == 2
    first = Terminal(phone="13306139197", device_id="BUS-0001", terminal_id="T000123")
    assert directory.lookup("013306139197") == first
    assert directory.lookup("00000000013306139197") == first
    assert directory.lookup("013900000001") == Terminal("13900000001", "BUS-0002")
    assert directory.lookup("013900000002") is None


def test_open_directory_uses_the_phone_number_as_device_id() -> None:
    """Without a file every terminal is accepted under its number without padding."""
    assert TerminalDirectory.load(None).lookup("013306139197") == Terminal(
        "13306139197", "13306139197"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("phone,device\n1,A\n", "missing column"),
        ("phone,device_id\n13x,A\n", r"terminals.csv:2: phone"),
        ("phone,device_id\n1,bad id\n", r"terminals.csv:2: device_id"),
        ("phone,device_id\n01,A\n1,B\n", r"terminals.csv:3: phone: 1 appears twice"),
        ("phone,device_id\n1,A\n2,A\n", r"terminals.csv:3: device_id: A appears twice"),
    ],
    ids=["column", "phone", "device-id", "dup-phone", "dup-device"],
)
def test_mapping_errors_name_file_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    """A bad mapping fails at start, saying where."""
    with pytest.raises(MappingError, match=message):
        TerminalDirectory.load(_mapping(tmp_path, text))


def test_mapping_file_missing_is_an_error(tmp_path: Path) -> None:
    """An unreadable file is named."""
    with pytest.raises(MappingError, match="cannot read"):
        TerminalDirectory.load(tmp_path / "absent.csv")


def test_auth_codes_are_stable_per_secret_and_checked() -> None:
    """Same secret, same code (replicas, restarts); another secret or phone, another code."""
    codes = AuthCodes(b"k1")
    code = codes.issue("013306139197")
    assert len(code) == 16
    assert code == AuthCodes(b"k1").issue("00000000013306139197")
    assert code != AuthCodes(b"k2").issue("013306139197")
    assert code != codes.issue("013306139198")
    assert codes.check("013306139197", code)
    assert not codes.check("013306139197", "0" * 16)
    assert not codes.check("013306139198", code)


def test_auth_codes_open_policy_and_random_secret() -> None:
    """'open' accepts any code; without a secret each start draws its own."""
    assert AuthCodes(b"k", policy="open").check("1", "anything")
    assert AuthCodes(None).issue("1") != AuthCodes(None).issue("1")
