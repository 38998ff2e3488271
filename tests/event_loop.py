"""Running a coroutine from a synchronous test without disturbing other tests' event loops."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_on_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on a loop of its own; unlike asyncio.run, it leaves the thread's
    current loop alone (asyncio.run unsets it, and Pulumi's mocks in tests/infra need it)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()
