"""Running a coroutine from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` without its hidden cost on large results.

    On Python 3.11, when ``asyncio.run`` restores the SIGINT handler, ``signal.signal`` builds
    the repr of the old handler, which holds the main task and so its result: for a
    10,000-router report that repr took longer than the DNS queries. The main task here returns
    nothing; the result travels in a box.
    """
    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]
