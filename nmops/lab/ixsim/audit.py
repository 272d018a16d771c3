"""Per-router record of every line the router received, secrets masked.

Tests read it to prove what nmops did and did not send (e.g. no `write memory` in a dry run).
One line per received line: timestamp, session number, the prompt it was typed at, the line.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from nmops.ix.masking import mask_line as mask_secrets
from nmops.lab.ixsim.router import JST


class CommandLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, session: int, prompt: str, line: str) -> None:
        self._append(f"s{session} {prompt}{mask_secrets(line)}")

    def event(self, session: int, text: str) -> None:
        """Not a received line (login, logout, drop): marked with `--` so greps can skip it."""
        self._append(f"s{session} -- {text}")

    def _append(self, text: str) -> None:
        stamp = datetime.now(JST).isoformat(timespec="milliseconds")
        # Opened per line: cheap at CLI speed, and nothing to leak across hundreds of routers.
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {text}\n")
