"""What every benchmark here ends with: the missed targets, a verdict, an exit status."""

from __future__ import annotations


def finish(failures: list[str]) -> int:
    for failure in failures:
        print(f"MISSED: {failure}")
    print("all targets met" if not failures else f"{len(failures)} target(s) missed")
    return 1 if failures else 0
