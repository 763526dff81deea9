"""GroupCommit (quanyi_platform.group_commit): a drainer's slot is free as soon as it has seen its queue
empty, so a call submitted right after a group settled is never left without a drainer. (How groups form
and fail: services/orders/tests/unit/test_group_decisions.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from quanyi_platform.group_commit import GroupCommit


async def _upper(group: Sequence[str]) -> list[str | Exception]:
    return [c.upper() for c in group]


async def test_a_caller_that_submits_again_at_once_after_its_group_is_served() -> None:
    committer: GroupCommit[str, str] = GroupCommit(_upper, max_group=8, max_in_flight=1)

    async def one_after_another() -> list[str]:
        # No loop turn between a group's result and the next call: the stopped drainer's done callback
        # has not run yet when the next call is submitted.
        return [await committer.submit(f"c{n}") for n in range(20)]

    assert await asyncio.wait_for(one_after_another(), 2) == [f"C{n}" for n in range(20)]
    assert committer.calls == 20
