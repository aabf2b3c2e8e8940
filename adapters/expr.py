"""A small, safe arithmetic language for adapter rules (``expr: "round(fill * 100, 1)"``).

Never ``eval``: the text is parsed with :func:`ast.parse` (parsing runs nothing) and only these
nodes are accepted, then compiled into plain closures: numbers, payload paths (``price``,
``item.price``, ``bins[0].fill``), ``+ - * /``, unary minus, parentheses and the functions
``round(x)``/``round(x, n)``, ``abs``, ``min``, ``max``. No names other than payload paths,
no attributes of Python objects, no strings, no comparisons: an expression can compute a number
from the payload's numbers and nothing else.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from adapters.paths import MISSING, Path, format_path, get

__all__ = ["EvalError", "Expr", "compile_expr"]

# Generous for "round((a + b) / 2 * 100, 1)"; a bound keeps a rule from being a program.
MAX_EXPR_CHARS = 256
MAX_EXPR_NODES = 64

Number = int | float
Expr = Callable[[Any], Number]

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "round": (round, 1, 2),
    "abs": (abs, 1, 1),
    "min": (min, 2, 8),
    "max": (max, 2, 8),
}


class EvalError(ValueError):
    """An expression could not be computed on this payload.

    Attributes:
        path: The payload path at fault (absent, not a number), or None when the arithmetic failed.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


def compile_expr(text: str) -> tuple[Expr, tuple[Path, ...]]:
    """Compile ``text``; returns the function and the payload paths it reads.

    Raises:
        ValueError: ``text`` is not an expression of the language; the message says what is not.
    """
    if len(text) > MAX_EXPR_CHARS:
        raise ValueError(f"expression longer than {MAX_EXPR_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an expression: {exc.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_EXPR_NODES:
        raise ValueError(f"expression has more than {MAX_EXPR_NODES} parts")
    paths: list[Path] = []
    return _compile(tree.body, paths), tuple(paths)


def _compile(node: ast.expr, paths: list[Path]) -> Expr:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"only numbers may be written as constants, not {value!r}")
        return lambda _payload: value
    if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
        path = _path_of(node)
        paths.append(path)
        return _reader(path)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _compile(node.operand, paths)
        if isinstance(node.op, ast.UAdd):
            return inner
        return lambda payload: -inner(payload)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op = _BINARY[type(node.op)]
        left, right = _compile(node.left, paths), _compile(node.right, paths)

        def binary(payload: Any) -> Number:
            try:
                result = op(left(payload), right(payload))
            except ZeroDivisionError:
                raise EvalError("division by zero") from None
            except OverflowError:
                raise EvalError("number too large") from None
            if isinstance(result, float) and not math.isfinite(result):
                raise EvalError("result is not a finite number")
            return result

        return binary
    if isinstance(node, ast.Call):
        return _call(node, paths)
    raise ValueError(
        f"{ast.unparse(node)!r} is not allowed: use numbers, payload paths, + - * /, "
        f"parentheses and {', '.join(sorted(_FUNCTIONS))}()"
    )


def _call(node: ast.Call, paths: list[Path]) -> Expr:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in _FUNCTIONS or node.keywords:
        raise ValueError(
            f"{ast.unparse(node.func)!r} is not a function of the language "
            f"({', '.join(sorted(_FUNCTIONS))}, positional arguments only)"
        )
    function, fewest, most = _FUNCTIONS[name]
    if not fewest <= len(node.args) <= most:
        raise ValueError(f"{name}() takes {fewest} to {most} arguments, got {len(node.args)}")
    if name == "round" and len(node.args) == 2:
        digits = node.args[1]
        if not (isinstance(digits, ast.Constant) and type(digits.value) is int):
            raise ValueError("round(x, n): n must be a whole number written in the rule")
    args = [_compile(arg, paths) for arg in node.args]

    def call(payload: Any) -> Number:
        try:
            return function(*(arg(payload) for arg in args))
        except (OverflowError, ValueError):
            raise EvalError(f"{name}() failed: number out of range") from None

    return call


def _path_of(node: ast.expr) -> Path:
    """``item.bins[0].fill`` as written in the expression → its steps."""
    steps: list[str | int] = []
    while True:
        if isinstance(node, ast.Name):
            steps.append(node.id)
            return tuple(reversed(steps))
        if isinstance(node, ast.Attribute):
            steps.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            index = node.slice
            if not (isinstance(index, ast.Constant) and type(index.value) is int):
                raise ValueError(f"{ast.unparse(node)!r}: an index must be a whole number")
            steps.append(index.value)
            node = node.value
        else:
            raise ValueError(f"{ast.unparse(node)!r} is not a payload path")


def _reader(path: Path) -> Expr:
    where = format_path(path)

    def read(payload: Any) -> Number:
        value = get(payload, path)
        if value is MISSING:
            raise EvalError("absent from the payload", path=where)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EvalError(f"expected a number, got {type(value).__name__}", path=where)
        return value

    return read
