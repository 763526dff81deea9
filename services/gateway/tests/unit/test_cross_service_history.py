"""The back office's history use case: every service asked, answers merged once each, folded; a service
that does not answer is named, never an error."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from quanyi_gateway.application.history import Histories, SourceUnavailable
from quanyi_gateway.web.i18n import catalogue
from quanyi_platform.history import KEY_STATE, ORDER_STATE, HistoryEvent, mentions_key

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def ev(service: str, seq: int, type_: str, cause: str = "", payload: dict[str, object] | None = None,
       order: str = "o-1") -> HistoryEvent:
    return HistoryEvent(
        service=service, seq=seq, event_id=f"{service}-{seq}", type=f"quanyi.{service}.v1.{type_}",
        aggregate_type="Order", aggregate_id=order, correlation_id=order, causation_id=cause,
        occurred_at=T0 + timedelta(seconds=seq), payload=payload or {},
    )


class FakeSource:
    """A service's store: answers like EventHistoryService (correlated events; a key's own orders when it
    knows them; only events naming the key when one is asked for)."""

    def __init__(self, name: str, events: Sequence[HistoryEvent], keys: dict[str, str] | None = None,
                 down: bool = False) -> None:
        self.name = name
        self._events = list(events)
        self._keys = keys or {}
        self.down = down
        self.asked: list[tuple[tuple[str, ...], str]] = []

    async def events(self, correlation_ids: Sequence[str], key_id: str) -> tuple[list[HistoryEvent], bool]:
        self.asked.append((tuple(correlation_ids), key_id))
        if self.down:
            raise SourceUnavailable(self.name)
        ids = set(correlation_ids) | ({self._keys[key_id]} if key_id in self._keys else set())
        found = [e for e in self._events if e.correlation_id in ids]
        if key_id:
            found = [e for e in found if mentions_key(e.payload, key_id)]
        return found, False


def sources(risk_down: bool = False) -> list[FakeSource]:
    return [
        FakeSource("orders", [ev("orders", 1, "OrderPlaced"), ev("orders", 2, "OrderPaid"),
                              ev("orders", 9, "OrderPlaced", order="o-2")]),
        FakeSource("inventory", [ev("inventory", 1, "KeyReserved", "orders-2", {"keys": [{"keyId": "k-7"}]})],
                   keys={"k-7": "o-1"}),
        FakeSource("fulfillment", [ev("fulfillment", 3, "KeyDelivered", "inventory-1", {"keyId": "k-7"}),
                                   ev("fulfillment", 4, "Redeemed", "", {"keyId": "k-7"})]),
        FakeSource("ledger", [ev("ledger", 1, "EntriesPosted", "orders-2")]),
        FakeSource("risk", [ev("risk", 1, "RiskDecided", "orders-1")], down=risk_down),
    ]


async def test_an_orders_history_holds_every_services_events_under_their_causes() -> None:
    found = await Histories(sources()).of_order("o-1")
    assert found.missing == () and found.history.state == "delivered"
    chain = [(r["depth"], r["service"], r["event"]) for r in found.history.chain_rows()]
    assert chain == [
        (0, "orders", "OrderPlaced"), (1, "risk", "RiskDecided"), (0, "orders", "OrderPaid"),
        (1, "inventory", "KeyReserved"), (2, "fulfillment", "KeyDelivered"), (1, "ledger", "EntriesPosted"),
        (0, "fulfillment", "Redeemed"),
    ]


async def test_a_service_that_does_not_answer_is_named_and_the_others_history_stands() -> None:
    found = await Histories(sources(risk_down=True)).of_order("o-1")
    assert found.missing == ("risk",)
    assert "RiskDecided" not in [e.short_type for e in found.history.events]
    assert len(found.history.events) == 6 and found.as_json()["missing"] == ["risk"]


async def test_the_history_as_of_an_instant_stops_there() -> None:
    found = await Histories(sources()).of_order("o-1", T0 + timedelta(seconds=2))
    assert found.history.state == "paid"
    assert found.history.as_of == T0 + timedelta(seconds=2)


async def test_a_keys_history_is_found_through_its_order_and_holds_only_events_naming_it() -> None:
    asked = sources()
    found = await Histories(asked).of_key("k-7")
    assert found.history.kind == "key" and found.history.state == "redeemed"
    assert [e.short_type for e in found.history.events] == ["KeyReserved", "KeyDelivered", "Redeemed"]
    assert asked[2].asked == [((), "k-7"), (("o-1",), "k-7")]


async def test_nothing_found_anywhere_is_not_found() -> None:
    assert not (await Histories(sources()).of_order("o-404")).found
    assert (await Histories(sources(risk_down=True)).of_order("o-404")).found  # maybe risk has it


def test_every_state_the_fold_names_reads_in_both_languages() -> None:
    labels = {s for s in (*ORDER_STATE.values(), *KEY_STATE.values()) if s} | {"unknown"}
    for lang in ("zh-CN", "en"):
        messages = catalogue(lang)
        assert all("history.state." + s.replace(",", "").replace(" ", "_") in messages for s in labels), lang
