"""Keep a long-running `nmops serve` from creeping up in memory on glibc.

Jobs run in threads, and glibc gives threads their own malloc arenas (up to 8 per core), each
keeping the memory freed in it for itself: RSS then grows for hours though nothing leaks (the
soak bench showed +13 % over ten minutes, still rising, with Python's own allocations flat).
Two arenas and a trim after each job keep it level. Elsewhere (musl, macOS) this does
nothing; an arena limit the operator set (``MALLOC_ARENA_MAX``, or
``glibc.malloc.arena_max`` in ``GLIBC_TUNABLES``) is left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import platform

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def cap_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` malloc arenas from now on; whether it took effect. A setting of the
    whole process: `nmops serve` makes it once, first, before any thread starts."""
    if "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False  # the operator's choice
    libc = _libc()
    if libc is None:
        return False
    done = bool(libc.mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(arenas)))
    log.debug("malloc arenas capped at %d: %s", arenas, done)
    return done


def trim() -> bool:
    """Give memory freed by a finished job back to the system; whether any went."""
    libc = _libc()
    return bool(libc.malloc_trim(ctypes.c_size_t(0))) if libc is not None else False
