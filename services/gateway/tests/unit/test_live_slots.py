"""A buyer's open order streams are capped per gateway process, and a slot whose stream never started
lapses once no stream could still be running."""

from quanyi_gateway.web.routes.live import StreamSlots


def test_a_buyer_holds_at_most_the_cap_and_an_ended_stream_gives_its_slot_back() -> None:
    slots = StreamSlots(per_buyer=2)
    first, second = slots.take("alice"), slots.take("alice")
    assert first is not None and second is not None and first is not second
    assert slots.take("alice") is None
    assert slots.take("bob") is not None  # another buyer's streams are their own
    slots.give("alice", first)
    assert slots.take("alice") is not None
    assert slots.take("alice") is None


def test_a_slot_never_given_back_lapses_after_the_longest_stream() -> None:
    now = [100.0]
    slots = StreamSlots(per_buyer=1, lapse_s=65.0, clock=lambda: now[0])
    assert slots.take("alice") is not None  # its client left before the stream started: never given back
    now[0] += 64.0
    assert slots.take("alice") is None
    now[0] += 2.0
    slot = slots.take("alice")
    assert slot is not None
    slots.give("alice", slot)
    assert slots.open == {}
