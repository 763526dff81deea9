"""Group commit: concurrent calls of one kind decided together in one unit of work.

A call is queued; a drainer takes what is queued (at most `max_group` calls, in arrival order) and runs
them as one group, then takes the next. At most `max_in_flight` groups run at once, so a call that
finds a drainer free starts at once (nothing waits at low load), and calls that arrive while every
drainer is busy (a group committing) go together in the next group: the group's size follows the load.

`run_group(commands)` decides the commands in order as one unit of work and returns, per command, its
result or the exception that command alone must see (a refusal). If the whole group fails (an exception
escapes `run_group`), each command of a group of several is run again alone, one after the other, so a
command that breaks the group fails by itself and never its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

C = TypeVar("C")
R = TypeVar("R")

log = logging.getLogger(__name__)


class GroupCommit(Generic[C, R]):
    """Queues calls and runs them a group at a time (see the module's docstring)."""

    def __init__(
        self,
        run_group: Callable[[Sequence[C]], Awaitable[Sequence[R | Exception]]],
        *,
        max_group: int = 64,
        max_in_flight: int = 2,
    ) -> None:
        if max_group < 1 or max_in_flight < 1:
            raise ValueError("a group holds at least one call and at least one group may run")
        self._run_group = run_group
        self._max_group = max_group
        self._max_in_flight = max_in_flight
        self._queue: deque[tuple[C, asyncio.Future[R]]] = deque()
        self._drainers: set[asyncio.Task[None]] = set()
        #: Groups run so far (isolated re-runs not counted), and the calls they held.
        self.groups = 0
        self.calls = 0

    @property
    def waiting(self) -> int:
        """Calls queued and not yet taken into a group."""
        return len(self._queue)

    async def submit(self, command: C) -> R:
        """The command's result, decided in some group; raises the command's own refusal."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((command, future))
        if len(self._drainers) < self._max_in_flight:
            task = asyncio.create_task(self._drain())
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                group = [self._queue.popleft() for _ in range(min(self._max_group, len(self._queue)))]
                self.groups += 1
                self.calls += len(group)
                try:
                    await self._settle(group)
                except BaseException:  # cancelled (shutting down): the callers must not wait forever
                    for _, future in group:
                        future.cancel()
                    raise
        finally:
            # Free the slot now, with the queue seen empty: the task's done callback runs a loop turn
            # later, and a call submitted in between (a caller woken by the last group) would find every
            # slot taken by drainers that have stopped, and wait until some later call came.
            task = asyncio.current_task()
            if task is not None:
                self._drainers.discard(task)

    async def _settle(self, group: list[tuple[C, asyncio.Future[R]]]) -> None:
        commands = [command for command, _ in group]
        try:
            outcomes = await self._run_group(commands)
        except Exception as exc:
            if len(group) == 1:
                outcomes = [exc]
            else:
                log.warning("a group failed; its calls run alone", extra={"calls": len(group),
                                                                          "error": type(exc).__name__})
                outcomes = [await self._alone(command) for command in commands]
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if future.done():  # the caller went away (cancelled); the outcome stands
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _alone(self, command: C) -> R | Exception:
        try:
            return (await self._run_group([command]))[0]
        except Exception as exc:
            return exc
