"""``python -m core.probes``: the container health check (core/probes/check.py)."""

import sys

from core.probes.check import main

sys.exit(main())
