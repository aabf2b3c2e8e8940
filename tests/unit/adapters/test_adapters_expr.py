"""The safe expression language: arithmetic over payload numbers, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.expr import EvalError, compile_expr

PAYLOAD = {"a": 3, "b": 4.5, "item": {"price": 2.5, "bins": [{"fill": 0.885}]}, "flag": True}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + b", 7.5),
        ("-a * 2", -6),
        ("(a + 1) / 2", 2.0),
        ("item.price * 100", 250.0),
        ("round(item.bins[0].fill * 100, 1)", 88.5),
        ("round(b)", 4),
        ("abs(-a)", 3),
        ("min(a, b, 10)", 3),
        ("max(a, b)", 4.5),
    ],
)
def test_expr_computes_over_payload(text: str, expected: float) -> None:
    """Numbers, paths, + - * /, parentheses and the four functions compute as written."""
    expr, _paths = compile_expr(text)
    assert expr(PAYLOAD) == expected


def test_expr_reports_the_paths_it_reads() -> None:
    """compile_expr returns each payload path the expression reads, as steps."""
    _expr, paths = compile_expr("item.bins[0].fill + a")
    assert paths == (("item", "bins", 0, "fill"), ("a",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "not a function"),
        ("a.__class__", None),  # an attribute is a payload key here, never a Python attribute
        ("'text'", "only numbers"),
        ("a if b else 1", "is not allowed"),
        ("a < b", "is not allowed"),
        ("a ** 99999", "is not allowed"),
        ("[a, b]", "is not allowed"),
        ("lambda: 1", "is not allowed"),
        ("round(a, ndigits=1)", "positional arguments only"),
        ("round(a, b)", "n must be a whole number"),
        ("item.bins[a]", "index must be a whole number"),
        ("min(a)", "takes 2 to 8 arguments"),
        ("True + 1", "only numbers"),
        ("a +", "not an expression"),
        ("+".join(["a"] * 200), "longer than"),
    ],
)
def test_expr_refuses_outside_the_language(text: str, message: str | None) -> None:
    """Anything beyond arithmetic over payload paths is refused when the rule is compiled."""
    if message is None:
        expr, _ = compile_expr(text)
        with pytest.raises(EvalError):  # read as the payload key "__class__": absent
            expr(PAYLOAD)
        return
    with pytest.raises(ValueError, match=message):
        compile_expr(text)


@pytest.mark.parametrize(
    ("text", "payload", "path", "message"),
    [
        ("a * 2", {}, "a", "absent"),
        ("item.price * 2", {"item": {"price": "2.5"}}, "item.price", "got str"),
        ("a + 1", {"a": True}, "a", "got bool"),
        ("a / b", {"a": 1, "b": 0}, None, "division by zero"),
        ("a * b", {"a": 1e308, "b": 10}, None, "not a finite number"),
    ],
)
def test_expr_eval_error_names_the_path(
    text: str, payload: dict[str, Any], path: str | None, message: str
) -> None:
    """A payload the expression cannot compute on raises EvalError naming the path at fault."""
    expr, _ = compile_expr(text)
    with pytest.raises(EvalError, match=message) as info:
        expr(payload)
    assert info.value.path == path
