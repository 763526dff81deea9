"""Assessing placed orders: a buyer's velocity window is the aggregate; `decide` and `evolve` are pure.

Risk's record is one `RiskDecided` per order: the verdict, and the instant the order was placed. A buyer's
velocity window (`BuyerVelocity`) is the fold of the buyer's `RiskDecided` events, so the state that the
rule counts against is rebuilt exactly from the record, and deciding a batch of orders one after the
other against the evolving state gives what deciding them one at a time would have given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from quanyi_risk.domain.velocity import Decision, VelocityRule


class InvalidOrder(ValueError):
    """An order risk cannot assess: no order id, no buyer, or a time without a time zone."""


@dataclass(frozen=True)
class AssessOrder:
    """The command: assess order `order_id`, placed by `buyer_id` at `placed_at` (UTC, tz-aware)."""

    order_id: str
    buyer_id: str
    placed_at: datetime


@dataclass(frozen=True)
class RiskDecided:
    """The event: risk decided `order_id`, which `buyer_id` placed at `placed_at`."""

    order_id: str
    buyer_id: str
    placed_at: datetime
    decision: Decision
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuyerVelocity:
    """A buyer's orders known to risk, order id -> when it was placed.

    A loaded state may hold only the part of the buyer's history that matters to the orders at hand (those
    placed within a window of them, and any of them already decided); the rule looks no further.
    Treat `orders` as immutable: `evolve` returns a new state.
    """

    buyer_id: str
    orders: Mapping[str, datetime] = field(default_factory=dict)

    def knows(self, order_id: str) -> bool:
        return order_id in self.orders


def decide(state: BuyerVelocity, command: AssessOrder, rule: VelocityRule) -> list[RiskDecided]:
    """The events that assessing `command` records: one RiskDecided, or none for an order already decided.

    Raises InvalidOrder for an order that cannot be assessed.
    """
    if not command.order_id or not command.buyer_id:
        raise InvalidOrder("an order needs an order id and a buyer")
    if command.placed_at.tzinfo is None or command.placed_at.utcoffset() is None:
        raise InvalidOrder("an order's time must carry a time zone")
    if command.buyer_id != state.buyer_id:
        raise InvalidOrder("the order belongs to another buyer's window")
    if state.knows(command.order_id):
        return []  # decided before: a redelivered or repeated OrderPlaced changes nothing
    assessment = rule.assess(command.placed_at, state.orders.values(), command.buyer_id)
    return [
        RiskDecided(
            order_id=command.order_id,
            buyer_id=command.buyer_id,
            placed_at=command.placed_at,
            decision=assessment.decision,
            reasons=assessment.reasons,
        )
    ]


def evolve(state: BuyerVelocity, event: RiskDecided) -> BuyerVelocity:
    """The state after `event`: the buyer's window holds the order at the time it was placed.

    An order already known keeps its first time (the first RiskDecided of an order is the one that counts).
    """
    if event.buyer_id != state.buyer_id or state.knows(event.order_id):
        return state
    return BuyerVelocity(state.buyer_id, {**state.orders, event.order_id: event.placed_at})


def fold(
    events: Iterable[RiskDecided], states: Mapping[str, BuyerVelocity] | None = None
) -> dict[str, BuyerVelocity]:
    """Every buyer's state after `events` (in order), starting from `states` (default: nothing known)."""
    out = dict(states or {})
    for event in events:
        out[event.buyer_id] = evolve(out.get(event.buyer_id) or BuyerVelocity(event.buyer_id), event)
    return out


def decide_all(
    rule: VelocityRule, states: Mapping[str, BuyerVelocity], commands: Sequence[AssessOrder]
) -> tuple[list[list[RiskDecided]], dict[str, BuyerVelocity]]:
    """Decide `commands` in order, each against the states the earlier ones left (orders of one buyer in
    the batch count against each other), exactly as deciding them one at a time. Returns the events of
    each command, in the commands' order, and the states after all of them.

    Raises InvalidOrder when any command cannot be assessed.
    """
    out = dict(states)
    decided: list[list[RiskDecided]] = []
    for command in commands:
        state = out.get(command.buyer_id) or BuyerVelocity(command.buyer_id)
        events = decide(state, command, rule)
        for event in events:
            state = evolve(state, event)
        out[command.buyer_id] = state
        decided.append(events)
    return decided, out
