"""Delivering a reservation: the user centre (deliveries rows) at once, and one e-mail with the keys.

The consumer's transaction writes the deliveries rows, KeyDelivered and an email_outbox row together, so
the order is in the buyer's user centre exactly once and its e-mail is never forgotten. The e-mail itself
is sent by the e-mail sender (entrypoints/email_retry.py), several at a time, outside the consumer: an SMTP
round trip per order would otherwise cap delivery at a few dozen orders a second. Sending happens before the
sender's commit, so a crash between the two sends it again: delivery e-mail is at-least-once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore

from quanyi_fulfillment.adapters import repository as repo
from quanyi_fulfillment.application.ports import KeyRevealer, Mailer, MailNotSent
from quanyi_fulfillment.domain.delivery import Decision, Reservation, channels, decide, pair_secrets
from quanyi_fulfillment.domain.mail import render_delivery, scrub

AGGREGATE = "Delivery"


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    email_queued: bool


async def send_keys(
    inventory: KeyRevealer, mailer: Mailer, order_id: str, to: str, keys: Sequence[tuple[str, int, int]]
) -> str | None:
    """Reveal the keys (key_id, line_no, unit_no), render and send the e-mail.

    Returns None when the mail server accepted it, else why not (never containing a key). The
    plaintext lives only in this call's locals. Propagates InventoryUnavailable, RevealRefused and
    RevealMismatch.
    """
    secrets = await inventory.reveal(order_id, [k[0] for k in keys])
    to_send = pair_secrets(keys, secrets)
    content = render_delivery(order_id, to_send)
    try:
        await mailer.send(to, content)
    except MailNotSent as exc:
        return scrub(exc.reason, to_send)
    return None


def delivery_failed(order_id: str, version: int, attempt: int, reason: str, final: bool,
                    causation_id: str = "") -> NewEvent:
    return NewEvent(
        aggregate_type=AGGREGATE,
        aggregate_id=order_id,
        aggregate_version=version,
        payload=fulfillment_events.DeliveryFailed(
            order_id=order_id, attempt=attempt, reason=reason, final=final
        ),
        correlation_id=order_id,
        causation_id=causation_id,
    )


async def deliver_reservation(
    conn: AsyncConnection[Any],
    store: EventStore,
    reservation: Reservation,
    *,
    correlation_id: str,
    causation_id: str,
    now: datetime,
) -> DeliveryOutcome:
    """Deliver an order's reserved keys once, in the caller's transaction.

    - Already delivered (deliveries rows exist) -> nothing.
    - Otherwise: one deliveries row per key (the user centre), KeyDelivered (version 1), and an
      email_outbox row due now for the e-mail sender. Without a buyer e-mail address only the user
      centre is used. Nothing here calls inventory or SMTP.
    """
    order_id = reservation.order_id
    await repo.take_order(conn, order_id)
    if decide(reservation, await repo.delivered_key_ids(conn, order_id)) is Decision.ALREADY_DELIVERED:
        return DeliveryOutcome(delivered=False, email_queued=False)
    await repo.insert_deliveries(conn, reservation, now)
    if reservation.buyer_email:
        await repo.queue_email(
            conn, order_id, reservation.buyer_email, attempts=0, next_attempt_at=now, last_error="",
            state="pending",
        )

    events = [
        NewEvent(
            aggregate_type=AGGREGATE,
            aggregate_id=order_id,
            aggregate_version=1,
            payload=fulfillment_events.KeyDelivered(
                order_id=order_id,
                buyer_id=reservation.buyer_id,
                keys=[
                    fulfillment_events.DeliveredKey(
                        key_id=k.key_id,
                        sku_id=k.sku_id,
                        unit_cost=money_pb2.Money(
                            minor_units=k.unit_cost.minor_units, currency=k.unit_cost.currency
                        ),
                    )
                    for k in reservation.keys
                ],
                channels=list(channels(bool(reservation.buyer_email))),
                sales_channel=reservation.sales_channel,
            ),
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
    ]
    await repo.set_version(conn, order_id, len(events))
    await store.append(conn, events)
    return DeliveryOutcome(delivered=True, email_queued=bool(reservation.buyer_email))
