"""InfluxDB 1.x users: an admin, a write-only user for the streams workers, a read-only one.

==================  ==========================================================================
user                privileges
==================  ==========================================================================
``cityiot-admin``   ALL PRIVILEGES: creates the database and the users (the local runner)
``cityiot-writer``  WRITE on the database: the streams workers (cannot read, cannot create)
``cityiot-reader``  READ on the database: Grafana, snapshots, the reconciliation of ``cityiot up``
==================  ==========================================================================

Everything goes through the HTTP API as InfluxQL (``CREATE USER``, ``GRANT``), as the admin, and
is idempotent: an existing user is given its password file's password again (``SET PASSWORD``),
so a rotated file takes effect at the next start. The admin comes first: with ``auth-enabled``
and no admin yet, InfluxDB accepts that one statement from anyone. No password reaches an error
message: statements that carry one are never quoted.
"""

from __future__ import annotations

from pydantic import SecretStr

from cityiot.access.passwords import PasswordDir
from core.errors import CityiotError
from core.influx import InfluxError, InfluxQueryError, InfluxTarget, quote_identifier
from core.influx.target import MASK
from core.settings import InfluxDBSettings

__all__ = [
    "INFLUX_ADMIN_USER",
    "INFLUX_USERS",
    "READER_USER",
    "WRITER_USER",
    "admin_target",
    "ensure_admin",
    "provision",
    "user_settings",
]

INFLUX_ADMIN_USER = "cityiot-admin"
WRITER_USER = "cityiot-writer"
READER_USER = "cityiot-reader"
INFLUX_USERS = (INFLUX_ADMIN_USER, WRITER_USER, READER_USER)


def _string(value: str) -> str:
    """``value`` as an InfluxQL single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def admin_target(url: str, database: str, passwords: PasswordDir) -> InfluxTarget:
    return InfluxTarget(
        url=url,
        database=database,
        username=INFLUX_ADMIN_USER,
        password=SecretStr(passwords.password(INFLUX_ADMIN_USER)),
    )


def ensure_admin(admin: InfluxTarget) -> None:
    """Create the admin (``admin``'s own user and password), or confirm it exists with them.

    Raises:
        InfluxError: as :meth:`InfluxTarget.execute`; InfluxAuthError (401) when the admin
            exists with another password. The target masks its own password in every message.
    """
    password = admin.password.get_secret_value() if admin.password else ""
    admin.execute(
        f"CREATE USER {quote_identifier(admin.username or '')} WITH PASSWORD {_string(password)} "
        "WITH ALL PRIVILEGES"
    )


def provision(url: str, database: str, passwords: PasswordDir) -> None:
    """The database, the writer with WRITE and the reader with READ on it (as the admin).

    Raises:
        CityiotError: InfluxDB refused a step (the message names it, with no password).
    """
    admin = admin_target(url, database, passwords)
    try:
        ensure_admin(admin)
        admin.execute(f"CREATE DATABASE {quote_identifier(database)}")
    except InfluxError as exc:
        raise CityiotError(f"InfluxDB: cannot prepare database {database!r}: {exc}") from None
    for user, privilege in ((WRITER_USER, "WRITE"), (READER_USER, "READ")):
        password = passwords.password(user)
        name = quote_identifier(user)
        _run(admin, f"CREATE USER {name} WITH PASSWORD {_string(password)}", password, user)
        _run(admin, f"GRANT {privilege} ON {quote_identifier(database)} TO {name}", "", user)


def _run(admin: InfluxTarget, statement: str, secret: str, user: str) -> None:
    """One user statement; "user already exists" sets the password instead."""
    try:
        admin.execute(statement)
        return
    except InfluxQueryError as exc:
        if "user already exists" not in exc.message:
            raise _user_error(user, exc, secret) from None
    except InfluxError as exc:
        raise _user_error(user, exc, secret) from None
    try:
        admin.execute(f"SET PASSWORD FOR {quote_identifier(user)} = {_string(secret)}")
    except InfluxError as exc:
        raise _user_error(user, exc, secret) from None


def _user_error(user: str, exc: InfluxError, secret: str) -> CityiotError:
    # InfluxQueryError quotes its statement, which holds the user's password: never pass it on.
    message = exc.message if isinstance(exc, InfluxQueryError) else str(exc)
    if secret:
        message = message.replace(secret, MASK)
    return CityiotError(f"InfluxDB: cannot set up user {user!r}: {message}")


def user_settings(
    influxdb: InfluxDBSettings, passwords: PasswordDir, user: str
) -> InfluxDBSettings:
    """``influxdb`` as ``user`` of a local InfluxDB with auth (password from ``passwords``)."""
    return InfluxDBSettings.model_validate(
        {
            **influxdb.model_dump(exclude={"password", "password_file", "token", "token_file"}),
            "username": user,
            "password_file": passwords.secret_file(user),
        }
    )
