"""`nmops serve`'s malloc arena cap, observed in a child process through glibc's own
malloc_stats(): eight job-like threads alive at once get their own arenas without the cap and
share two with it; an operator's limit (MALLOC_ARENA_MAX, GLIBC_TUNABLES) is left alone."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from nmops.service import memory

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the cap is a glibc setting"
)

CHILD = """
import ctypes, sys, threading
from nmops.service import memory
capped = memory.cap_arenas() if sys.argv[1] == "cap" else None
barrier = threading.Barrier(8)
def job():
    barrier.wait()
    keep = [bytearray(4096) for _ in range(200)]  # past pymalloc: glibc's malloc
    barrier.wait()
threads = [threading.Thread(target=job) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(capped, memory.trim(), flush=True)
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def arenas(mode: str, **env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=True,
    )
    return done.stdout.strip(), sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_without_the_cap_each_thread_gets_an_arena() -> None:
    _, count = arenas("none")
    assert count > 2, count  # what the cap is for


def test_the_cap_keeps_threads_to_two_arenas() -> None:
    said, count = arenas("cap")
    assert said.split()[0] == "True"
    assert count <= memory.ARENAS, count


def test_an_operators_setting_is_left_alone() -> None:
    said, count = arenas("cap", MALLOC_ARENA_MAX="4")
    assert said.split()[0] == "False"
    assert 2 < count <= 4, count
    said, count = arenas("cap", GLIBC_TUNABLES="glibc.malloc.arena_max=3")
    assert said.split()[0] == "False"
    assert 2 < count <= 3, count
