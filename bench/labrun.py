"""What the lab benchmarks share: the nmops command beside this Python, and a lab started in
the background until it says "ready"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NMOPS = Path(sys.executable).parent / "nmops"


def nmops(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NMOPS), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


def start_lab(directory: Path, *options: str) -> subprocess.Popen[str]:
    """`nmops lab up --fast [OPTIONS]` in ``directory``, once it is ready."""
    proc = subprocess.Popen(
        [str(NMOPS), "lab", "up", "--fast", *options, "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc
    raise RuntimeError("the lab did not start")
