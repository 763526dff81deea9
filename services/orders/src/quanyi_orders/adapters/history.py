"""An order's recorded events as history entries: the envelope's ids and the payload in protobuf's JSON
mapping (orders' events carry ids and amounts, never personal data or a key)."""

from __future__ import annotations

import json
from datetime import datetime

from google.protobuf.json_format import MessageToDict
from quanyi_platform.envelope import open_envelope

from quanyi_orders.application.ports import HistoryEvent


def history_event(envelope: bytes, occurred_at: datetime) -> HistoryEvent:
    env, payload = open_envelope(envelope)
    body = MessageToDict(payload) if payload is not None else {}
    text = json.dumps(body, sort_keys=True)
    return HistoryEvent(env.event_id, env.type, occurred_at, env.causation_id, text)
