"""Line protocol: escaping and field types."""

from __future__ import annotations

import pytest

from streams.lineproto import escape_tag, field_value, line


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain", "plain"),
        ("a b", r"a\ b"),
        ("a,b=c", r"a\,b\=c"),
        ("line\nbreak", r"line\ break"),
        ("back\\ slash", "back\\\\\\ slash"),
        ("trailing\\", "trailing\\\\"),
    ],
    ids=["plain", "space", "comma-equals", "newline", "backslash-space", "trailing-backslash"],
)
def test_escape_tag_escapes_separators(text: str, escaped: str) -> None:
    """Tag keys/values lose every character that could end the tag or the line."""
    assert escape_tag(text) == escaped


@pytest.mark.parametrize(
    ("value", "text"),
    [(3, "3i"), (3.0, "3.0"), (True, "true"), (False, "false"), ('say "hi"\\', r'"say \"hi\"\\"')],
    ids=["int", "float", "true", "false", "string"],
)
def test_field_value_types_are_fixed_by_python_type(value: object, text: str) -> None:
    """ints get ``i``, floats stay floats, strings are quoted with `"` and `\\` escaped."""
    assert field_value(value) == text  # type: ignore[arg-type]


def test_line_cannot_be_split_by_device_text() -> None:
    """A newline in any string yields one line, never a second point."""
    text = line("m", [("t", "x\ny")], {"s": "a\nb=c d", "none": None}, 7)
    assert "\n" not in text
    assert text == 'm,t=x\\ y s="a b=c d" 7'
