"""Hypothesis strategies: financial facts as the ledger hears them, in batches, some heard again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from quanyi_ledger.application.posting import HeardFact
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.journal import Money

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHANNELS = ["web", "tmall", "jd", ""]
CURRENCIES = ["CNY", "USD"]

money = st.builds(Money, st.integers(min_value=0, max_value=10_000), st.sampled_from(CURRENCIES))
order_ids = st.sampled_from([f"o{i}" for i in range(6)])
txn_ids = st.text(alphabet="abcdef0123456789-", max_size=6)
facts = st.one_of(
    st.builds(posting.PaymentCaptured, order_ids, st.just("psp-sim"), txn_ids, money),
    st.builds(posting.OrderPaid, order_ids, st.sampled_from(CHANNELS), money),
    st.builds(posting.OrderRefunded, order_ids, st.sampled_from(CHANNELS), money, st.booleans()),
    st.builds(posting.KeyDelivered, order_ids, st.sampled_from(CHANNELS), st.lists(money, max_size=4)),
)


@st.composite
def heard_batches(draw: st.DrawFn, max_batches: int = 6, max_batch: int = 6) -> list[list[HeardFact]]:
    """Batches of facts, each heard as its own event; now and then one heard before is heard again (a
    redelivery: the same event id)."""
    batches: list[list[HeardFact]] = []
    heard: list[HeardFact] = []
    for _ in range(draw(st.integers(min_value=1, max_value=max_batches))):
        batch = []
        for _ in range(draw(st.integers(min_value=0, max_value=max_batch))):
            if heard and draw(st.integers(min_value=0, max_value=4)) == 0:
                batch.append(draw(st.sampled_from(heard)))
                continue
            fact = draw(facts)
            n = len(heard)
            h = HeardFact(fact, posting.Source(str(uuid.UUID(int=n + 1)), T0 + timedelta(seconds=n)), fact.order_id)
            heard.append(h)
            batch.append(h)
        batches.append(batch)
    return batches


def postable(batches: list[list[HeardFact]]) -> set[str]:
    """The source events of the facts that have something to post."""
    return {h.source.event_id for b in batches for h in b if posting.entry_for(h.fact, h.source) is not None}
