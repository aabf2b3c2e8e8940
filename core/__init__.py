"""The ground floor of cityiot: settings, the one error root, the InfluxDB client, shared types.

Everything else stands on it (``schemas`` ← ``collectors``, ``streams``, ``dashboards``,
``simulator`` ← ``cityiot``); it imports nothing of the project, a contract in ``make lint``
keeps it so.
"""
