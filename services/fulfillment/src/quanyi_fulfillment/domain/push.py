"""The app's push: tells the buyer's device that an order's keys are in the app, never the keys.

A push travels through the platform's push service (APNs, FCM, a vendor's): no card key goes that way.
The app opens the order from `data` and shows its keys from the user centre, over the buyer's own
signed-in session, where every reveal is audited like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from quanyi_fulfillment.domain.delivery import KeyToSend


def push_message(order_id: str, keys: Sequence[KeyToSend]) -> dict[str, object]:
    """The push's title, body and data for an order's delivered keys (counts and ids only)."""
    n = len(keys)
    return {
        "title": "Your keys are ready",
        "body": f"{n} key{'s' if n != 1 else ''} of order {order_id} are in your account: tap to open.",
        "data": {"action": "open_order", "order_id": order_id, "keys": n},
    }
