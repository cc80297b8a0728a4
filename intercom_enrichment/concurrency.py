"""Awaiting several things at once, so that a fatal error stops the rest.

``asyncio.gather`` leaves the other awaitables running when one fails: after a 401 the rest of
a batch's lookups would go on spending the rate budget, and after an interruption they would
outlive the run. ``gather_all`` runs them in a ``TaskGroup``: the first failure cancels the
others, waits for them to end, and is raised as itself (not as an ``ExceptionGroup``), so that
callers catch the error tree of errors.py as before.
"""

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


async def gather_all(*awaitables: Awaitable[T]) -> list[T]:
    """The results of ``awaitables``, in order; the first failure cancels the others."""
    return cast(list[T], await _together(awaitables))


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """``gather_all`` of two awaitables of different types."""
    a, b = await _together((first, second))
    return cast(A, a), cast(B, b)


async def _together(awaitables: tuple[Awaitable[Any], ...]) -> list[Any]:
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_run(a)) for a in awaitables]
    except BaseExceptionGroup as failed:
        raise _first(failed) from None
    return [task.result() for task in tasks]


async def _run(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a (nested) group."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
