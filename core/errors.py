"""The errors cityiot raises on purpose; each says what went wrong and how to fix it."""

from __future__ import annotations

__all__ = ["CityiotError", "ServiceError", "SettingError"]


class CityiotError(Exception):
    """Base of every error cityiot raises on purpose (the CLI prints it as one line)."""


class SettingError(CityiotError):
    """A setting's value is valid but unusable here (its port is in use, its address is not this
    machine's): a setting's problem like a value that fails validation, so the CLI reports it the
    same way (one line starting with the variable, exit code 2).
    """

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class ServiceError(CityiotError):
    """A local server could not be started, probed or stopped.

    The message is one line naming the server, the cause, the fix and, when there is one, the log.
    """

    def __init__(self, server: str, cause: str, *, fix: str | None = None, log: str | None = None):
        self.server = server
        self.cause = cause
        self.fix = fix
        self.log = log
        parts = [f"{server}: {cause}"]
        if fix:
            parts.append(f"fix: {fix}")
        if log:
            parts.append(f"log: {log}")
        super().__init__("; ".join(parts))
