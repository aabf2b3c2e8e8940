"""The one error of the adapters: an adapter file that cannot be used, naming file, rule and field.

A native payload an adapter cannot map is not an error of this kind: it is a device breaking its
contract, raised as :class:`schemas.Rejected` and dead-lettered like any other.
"""

from __future__ import annotations

from core.errors import CityiotError

__all__ = ["AdapterError"]


class AdapterError(CityiotError):
    """An adapter file is malformed. ``str()`` is one line: ``file: rule 'r': field 'f': problem``.

    Attributes:
        path: The adapter file (or folder) as given.
        rule: The rule (an entry of ``messages``) at fault, or None for the file's header.
        field: The output field (or header key) at fault, or None.
        problem: What is wrong and what is expected.
    """

    def __init__(
        self, path: str, problem: str, *, rule: str | None = None, field: str | None = None
    ) -> None:
        self.path = path
        self.rule = rule
        self.field = field
        self.problem = problem
        where = [path]
        if rule is not None:
            where.append(f"rule {rule!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join([*where, problem]))
