"""py-spy profiles for ``bench/e2e.py --profile``: sample a process without pausing it, then
rank its functions by the samples they were on top of the stack (self) or anywhere (inclusive).
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path


def py_spy() -> str | None:
    """py-spy beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` (100 Hz, without pausing it) for ``seconds``; raw stacks to out."""
    cmd = [
        py_spy() or "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
    ]
    cmd += ["--format", "raw", "--output", str(out), "--nonblocking", "--rate", "100"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


_FRAME = re.compile(r"^(?P<fn>.*) \((?P<path>.*?)(?::\d+)?\)$")


def _frame(raw: str) -> str:
    match = _FRAME.match(raw.strip())
    if match is None:
        return raw.strip()
    path = match["path"]
    for marker in ("site-packages/", "/work/main/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['fn']} ({path})"


def top_functions(out: Path, n: int) -> tuple[int, list[tuple[str, int, int]]]:
    """(samples, [(function, self samples, inclusive samples)]) from py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, [(fn, c, inclusive[fn]) for fn, c in own.most_common(n)]
