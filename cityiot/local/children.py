"""The platform's own processes (collector, streams worker, simulator) as supervised children.

Each runs as ``python -m cityiot <command>`` in its own session with its log under the run
directory, so ``cityiot up`` can stop them in data-flow order and a crash names its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cityiot.local.runner import die_with_parent
from core.errors import ServiceError

__all__ = ["Child", "ChildProcesses"]

# A collector flushes its producer and a worker its InfluxDB batch on SIGTERM; give them time.
STOP_GRACE_S = 30.0


@dataclass
class Child:
    name: str
    args: Sequence[str]
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class ChildProcesses:
    """Start children, notice one dying, stop them in a chosen order."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: dict[str, Child] = {}

    def start(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        program: Sequence[str] = (sys.executable, "-m", "cityiot"),
    ) -> Child:
        """Run ``program + args`` (by default a ``cityiot`` subcommand) as a supervised child."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        child = Child(name, args, self.log_dir / f"{name}.log", env)
        with child.log.open("ab") as log:
            child.proc = subprocess.Popen(
                [*program, *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.children[name] = child
        return child

    def exited(self) -> Child | None:
        """A child that stopped by itself, if any (the caller decides whether that is expected)."""
        for child in self.children.values():
            if child.proc is not None and child.proc.poll() is not None:
                return child
        return None

    def wait(self, name: str, timeout: float) -> int | None:
        proc = self.children[name].proc
        if proc is None:
            return None
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, name: str) -> None:
        child = self.children.get(name)
        if child is None or child.proc is None or child.proc.poll() is not None:
            return
        child.proc.send_signal(signal.SIGTERM)
        try:
            child.proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()

    def stop_all(self, order: Sequence[str]) -> None:
        for name in order:
            self.stop(name)
        for name in list(self.children):
            self.stop(name)

    def check(self, expected_exits: Sequence[str] = ()) -> None:
        """Raise naming the log of a child that died when it should still run."""
        for child in self.children.values():
            if child.name in expected_exits or child.proc is None:
                continue
            code = child.proc.poll()
            if code is not None:
                raise ServiceError(child.name, f"exited with code {code}", log=str(child.log))

    def wait_until(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            time.sleep(0.2)
