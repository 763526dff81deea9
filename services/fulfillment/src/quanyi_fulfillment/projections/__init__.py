"""Fulfillment's projections: every table it reads is a function of its events.

They run inline, in the transaction that appends the events (EventStore.append), and in `quanyi replay
fulfillment`, which rebuilds them from the store or the topic.
"""

from __future__ import annotations

from quanyi_platform.projection import Projection

from quanyi_fulfillment.projections.deliveries import Deliveries
from quanyi_fulfillment.projections.delivery_latency import DeliveryLatency
from quanyi_fulfillment.projections.email_outbox import EmailOutbox
from quanyi_fulfillment.projections.entitlements import Entitlements
from quanyi_fulfillment.projections.kept_channels import KeptChannels

PROJECTIONS: tuple[Projection, ...] = (
    Deliveries(), EmailOutbox(), KeptChannels(), Entitlements(), DeliveryLatency()
)

__all__ = ["PROJECTIONS", "Deliveries", "DeliveryLatency", "EmailOutbox", "Entitlements", "KeptChannels"]
