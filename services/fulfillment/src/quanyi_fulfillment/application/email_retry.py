"""Retrying failed delivery e-mails, one per transaction, until sent or out of attempts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from quanyi_platform.eventstore import EventStore

from quanyi_fulfillment.adapters import repository as repo
from quanyi_fulfillment.application.deliver import delivery_failed, send_keys
from quanyi_fulfillment.application.ports import InventoryUnavailable, KeyRevealer, Mailer, RevealRefused
from quanyi_fulfillment.domain.errors import RevealMismatch
from quanyi_fulfillment.domain.retry import GiveUp, RetryPolicy


async def retry_due_email(
    conn: AsyncConnection[Any],
    store: EventStore,
    inventory: KeyRevealer,
    mailer: Mailer,
    policy: RetryPolicy,
    now: datetime,
) -> bool:
    """Send the oldest due e-mail (a first attempt or a retry), in the caller's transaction; False when
    none is due.

    The keys are revealed from inventory at send time (they are never stored). Sent -> the row becomes
    'sent'. Failed ->
    DeliveryFailed(attempt n, final = n >= max attempts) with the order's next version, and the row is
    rescheduled with backoff or becomes 'failed' (the exception queue). Inventory unavailable does not
    spend an attempt. As on the first attempt, the e-mail goes out before the commit (at-least-once).
    """
    pending = await repo.take_due_email(conn, now)
    if pending is None:
        return False
    rows = await repo.order_keys(conn, pending.order_id)
    keys = [(r.key_id, r.line_no, r.unit_no) for r in rows]
    attempt = pending.attempts + 1
    try:
        failure = await send_keys(inventory, mailer, pending.order_id, pending.buyer_email, keys)
    except InventoryUnavailable:
        await repo.update_email(
            conn, pending.order_id, attempts=pending.attempts,
            next_attempt_at=now + timedelta(seconds=policy.backoff_s(max(pending.attempts, 1))),
            last_error="inventory unavailable", state="pending",
        )
        return True
    except (RevealRefused, RevealMismatch) as exc:
        failure = f"keys could not be revealed: {exc}"
    if failure is None:
        await repo.update_email(
            conn, pending.order_id, attempts=attempt, next_attempt_at=now, last_error="", state="sent"
        )
        return True
    step = policy.after_failure(attempt, now)
    final = isinstance(step, GiveUp)
    version = await repo.next_version(conn, pending.order_id)
    await store.append(conn, [delivery_failed(pending.order_id, version, attempt, failure, final)])
    await repo.update_email(
        conn, pending.order_id, attempts=attempt,
        next_attempt_at=now if isinstance(step, GiveUp) else step.at,
        last_error=failure, state="failed" if final else "pending",
    )
    return True
