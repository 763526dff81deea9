"""Property: any command sequence, run through the use cases on the in-memory unit of work, leaves states
equal to the fold of the recorded events, and the aggregate's invariants hold."""

from __future__ import annotations

import uuid

from hypothesis import example, given, settings
from quanyi_fulfillment.adapters import codec
from quanyi_fulfillment.adapters.memory import InMemoryFulfillmentUnitOfWork
from quanyi_fulfillment.domain.aggregate import fold
from quanyi_platform.uow import InMemoryEventLog

from services.fulfillment.tests.scenarios import EXAMPLES, Runner, Step, check_invariants, steps


@settings(max_examples=200, deadline=None)
@given(steps)
@example(EXAMPLES[0])
@example(EXAMPLES[1])
@example(EXAMPLES[2])
async def test_any_command_sequence_leaves_the_state_the_fold_of_its_events(sequence: list[Step]) -> None:
    log = InMemoryEventLog("fulfillment")
    runner = Runner(lambda: InMemoryFulfillmentUnitOfWork(log), uuid.uuid4().hex[:8])

    await runner.run(sequence)

    assert log.pending == []
    recorded = [r for e in log.committed if (r := codec.recorded_of(e)) is not None]
    assert [codec.new_event(r).payload for r in recorded] == [e.payload for e in log.committed]
    states = fold(recorded)
    async with InMemoryFulfillmentUnitOfWork(log) as uow:
        assert await uow.deliveries.get_many(runner.order_ids()) == states
    check_invariants(recorded, states)


async def test_the_worked_examples_reach_the_exception_queue_drop_a_superseded_claim_and_redeem_once() -> None:
    recorded = []
    for n, sequence in enumerate(EXAMPLES):  # each on a store of its own: a claim takes any due e-mail
        log = InMemoryEventLog("fulfillment")
        await Runner(lambda log=log: InMemoryFulfillmentUnitOfWork(log), f"ex{n}").run(sequence)  # type: ignore[misc]
        recorded += [r for e in log.committed if (r := codec.recorded_of(e)) is not None]
    states = fold(recorded)
    given_up, superseded, postponed = (states[f"ex{n}-o{n}"].email for n in range(3))
    assert given_up is not None and (given_up.status, given_up.attempts) == ("failed", 3)
    # The first claim lapsed and was taken again: its "sent" is dropped, the second claim's failure counts.
    assert superseded is not None and (superseded.status, superseded.lease, superseded.attempts) == ("pending", 2, 1)
    assert postponed is not None and (postponed.status, postponed.attempts) == ("sent", 1)
    assert [r.event.key_id for r in recorded if type(r.event).__name__ == "Redeemed"] == ["ex2-o2-k1", "ex2-o0-k0"]
    check_invariants(recorded, states)
