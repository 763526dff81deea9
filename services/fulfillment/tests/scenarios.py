"""Random command sequences against the Delivery aggregate, run through the use cases and a unit of work.

The same sequences run on the in-memory fake (tests/unit) and on Postgres (tests/integration): after them,
what the repository loads (the projections) must equal the fold of the recorded events, and the
aggregate's invariants must hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from quanyi_fulfillment.application.deliver import deliver_reservations
from quanyi_fulfillment.application.email import Claim, claim_due_emails, record_outcomes
from quanyi_fulfillment.application.ports import UnitOfWorkFactory
from quanyi_fulfillment.application.redeem import record_redemption
from quanyi_fulfillment.domain.aggregate import (
    Delivery,
    EmailStatus,
    Failed,
    Postponed,
    Sent,
    Unreachable,
    fold,
)
from quanyi_fulfillment.domain.delivery import Money, Reservation, ReservedKey
from quanyi_fulfillment.domain.errors import FulfillmentError
from quanyi_fulfillment.domain.events import (
    DELIVERY,
    EmailAttemptFailed,
    EmailAttemptStarted,
    EmailCancelled,
    EmailGivenUp,
    EmailQueued,
    EmailSent,
    Recorded,
    Redeemed,
)
from quanyi_fulfillment.domain.redemption import RedemptionReport
from quanyi_fulfillment.domain.retry import RetryPolicy

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_s=0.1, cap_s=1.0)


@dataclass(frozen=True)
class Reserve:
    order: int
    keys: int
    email: bool


@dataclass(frozen=True)
class ClaimDue:
    lease_s: float


@dataclass(frozen=True)
class Finish:
    which: int
    outcome: str  # sent, failed, postponed, unreachable


@dataclass(frozen=True)
class Redeem:
    order: int
    key: int


@dataclass(frozen=True)
class Tick:
    seconds: float


Step = Reserve | ClaimDue | Finish | Redeem | Tick

_reserve = st.builds(Reserve, st.integers(0, 2), st.integers(1, 3), st.sampled_from([True, True, False]))
_claim = st.builds(ClaimDue, st.sampled_from([0.5, 30.0, 30.0]))
_finish = st.builds(Finish, st.integers(0, 3), st.sampled_from(["sent", "failed", "failed", "failed", "postponed", "unreachable"]))
_redeem = st.builds(Redeem, st.integers(0, 2), st.integers(0, 2))
_tick = st.builds(Tick, st.sampled_from([0.25, 1.0, 2.5, 5.0, 40.0]))
# Weighted towards the e-mail's life, so that retries, lapsed leases and the exception queue come up often.
_WEIGHTED = {"reserve": 2, "claim": 3, "finish": 4, "redeem": 1, "tick": 2}
_KINDS: dict[str, st.SearchStrategy[Step]] = {
    "reserve": _reserve, "claim": _claim, "finish": _finish, "redeem": _redeem, "tick": _tick
}
steps = st.lists(
    st.sampled_from([k for k, n in _WEIGHTED.items() for _ in range(n)]).flatmap(lambda k: _KINDS[k]),
    min_size=5,
    max_size=50,
)


@dataclass
class Runner:
    """Runs steps through the application layer with a clock of its own; orders and keys are named with
    `prefix`, so runs can share one store."""

    uow: UnitOfWorkFactory
    prefix: str
    now: datetime = T0
    open_claims: list[Claim] = field(default_factory=list)
    causation: int = 0

    def order_id(self, n: int) -> str:
        return f"{self.prefix}-o{n}"

    def key_id(self, order: int, n: int) -> str:
        return f"{self.prefix}-o{order}-k{n}"

    async def run(self, sequence: Sequence[Step]) -> None:
        for step in sequence:
            await self.step(step)

    async def step(self, step: Step) -> None:
        match step:
            case Reserve():
                keys = tuple(
                    ReservedKey(self.key_id(step.order, n), "sku-1", 1, n + 1, Money(700, "CNY"))
                    for n in range(step.keys)
                )
                # A reservation without a buyer id queues no e-mail.
                reservation = Reservation(self.order_id(step.order), "buyer-1" if step.email else "", keys, "web")
                self.causation += 1
                try:
                    await deliver_reservations(self.uow(), [(reservation, f"cause-{self.causation}")], self.now)
                except FulfillmentError:
                    pass  # reserved again with other keys: refused, nothing recorded
            case ClaimDue():
                claimed = await claim_due_emails(self.uow, self.now, 10, step.lease_s)
                self.open_claims.extend(claimed.claims)
            case Finish():
                if not self.open_claims:
                    return
                claim = self.open_claims.pop(step.which % len(self.open_claims))
                outcome = {
                    "sent": Sent(), "failed": Failed("smtp: refused"), "postponed": Postponed("later"),
                    "unreachable": Unreachable("the buyer was erased"),
                }
                await record_outcomes(self.uow, [(claim, outcome[step.outcome])], POLICY, self.now)
            case Redeem():
                report = RedemptionReport(self.key_id(step.order, step.key), "tmall", self.now - timedelta(seconds=5))
                try:
                    await record_redemption(self.uow, report, self.now)
                except FulfillmentError:
                    pass  # not delivered
            case Tick():
                self.now += timedelta(seconds=step.seconds)

    def order_ids(self) -> list[str]:
        return [self.order_id(n) for n in range(3)]


# Histories worth running every time: an e-mail that fails into the exception queue, one whose lapsed claim
# is superseded (the stale outcome is dropped), one postponed without spending an attempt, a key redeemed.
EXAMPLES: list[list[Step]] = [
    [
        Reserve(0, 2, True), ClaimDue(30), Finish(0, "failed"), Tick(1), ClaimDue(30), Finish(0, "failed"),
        Tick(1), ClaimDue(30), Finish(0, "failed"), Tick(1), ClaimDue(30), Finish(0, "sent"),
    ],
    [
        Reserve(1, 1, True), ClaimDue(0.5), Tick(1), ClaimDue(30), Finish(0, "sent"), Finish(0, "failed"),
        Reserve(1, 1, True), Reserve(1, 2, True),
    ],
    [
        Reserve(2, 3, True), ClaimDue(30), Finish(0, "postponed"), Tick(0.25), ClaimDue(30), Tick(1),
        ClaimDue(30), Finish(0, "sent"), Redeem(2, 1), Redeem(2, 1), Reserve(0, 1, False), Redeem(0, 0),
    ],
]


def mine(records: Sequence[Recorded], prefix: str) -> list[Recorded]:
    return [r for r in records if r.order_id.startswith(f"{prefix}-")]


def check_invariants(records: Sequence[Recorded], states: dict[str, Delivery]) -> None:
    """What must hold of any history: contiguous versions, a key redeemed once, attempts within the
    policy, nothing after an e-mail's end, and a claim's outcome only for the open claim."""
    versions: dict[str, list[int]] = {}
    redeemed: set[str] = set()
    ended: set[str] = set()
    open_lease: dict[str, int] = {}
    for r in records:
        if r.stream == DELIVERY:
            versions.setdefault(r.stream_id, []).append(r.version)
        event = r.event
        if isinstance(event, Redeemed):
            assert event.key_id not in redeemed
            redeemed.add(event.key_id)
        if isinstance(
            event, EmailQueued | EmailAttemptStarted | EmailSent | EmailAttemptFailed | EmailGivenUp | EmailCancelled
        ):
            assert r.order_id not in ended, "an e-mail event after the e-mail ended"
            if isinstance(event, EmailAttemptStarted):
                assert event.attempt <= POLICY.max_attempts
                open_lease[r.order_id] = event.lease
            elif not isinstance(event, EmailQueued):
                assert open_lease.pop(r.order_id) == event.lease, "an outcome of a superseded claim"
            if isinstance(event, EmailSent | EmailGivenUp | EmailCancelled):
                ended.add(r.order_id)
            if isinstance(event, EmailGivenUp):
                assert event.attempt == POLICY.max_attempts
    for order_id, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"{order_id}: versions {seen}"
    for d in states.values():
        if d.email is not None:
            assert 0 <= d.email.attempts <= POLICY.max_attempts
            if d.email.status is EmailStatus.FAILED:
                assert d.email.attempts == POLICY.max_attempts


def folded(records: Sequence[Recorded]) -> dict[str, Delivery]:
    return fold(records)
