"""``python -m streams``: run a streams worker with settings from ``CITYIOT_*``."""

from core.settings import Settings
from streams.worker import run_stream

run_stream(Settings())
