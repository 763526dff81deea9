"""EventHistoryService over a real gRPC server and a real Postgres event store: the events that concern an
order or a key, found by index look-ups, decoded to JSON, bounded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import history_pb2 as pb
from quanyi.common.v1 import history_pb2_grpc as pb_grpc
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform import db, event_history, rpc
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore
from quanyi_platform.infra.ports import free_port

SCHEMA = "history_test"


class Scope(event_history.HistoryScope):
    """A service that knows k-7 is o-1's key, and that seq 4 (a batch correlated with o-2) carries o-1."""

    async def key_correlations(self, conn: AsyncConnection[Any], key_id: str) -> Sequence[str]:
        cur = await conn.execute("SELECT 'o-1' AS o WHERE %s = 'k-7'", (key_id,))
        return [r["o"] for r in await cur.fetchall()]

    async def related_seqs(self, conn: AsyncConnection[Any], correlation_ids: Sequence[str]) -> Sequence[int]:
        return [4] if "o-1" in correlation_ids else []


def placed(order_id: str) -> NewEvent:
    return NewEvent(
        "Order", order_id, 1, orders_events.OrderPlaced(order_id=order_id, buyer_id="b-1"),
        correlation_id=order_id,
    )


def reserved(order_id: str, key_id: str, cause: str = "") -> NewEvent:
    return NewEvent(
        "Allocation", order_id, 1,
        inventory_events.KeyReserved(order_id=order_id, keys=[inventory_events.ReservedKey(key_id=key_id)]),
        correlation_id=order_id, causation_id=cause,
    )


@pytest.fixture
async def stub(database_url: str) -> AsyncIterator[tuple[pb_grpc.EventHistoryServiceStub, AsyncConnectionPool]]:
    await db.migrate(database_url, SCHEMA, [])
    pool = await db.create_pool(database_url, SCHEMA)
    store = EventStore(SCHEMA)
    async with pool.connection() as conn, conn.transaction():
        await store.append(conn, [placed("o-1")])  # seq 1
        await store.append(conn, [placed("o-2")])  # seq 2
        await store.append(conn, [reserved("o-1", "k-7")])  # seq 3
        await store.append(conn, [reserved("o-2", "k-8")])  # seq 4: names k-8, but the scope relates it to o-1
    server = rpc.server()
    event_history.serve(server, "toy", pool, Scope())
    address = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(address)
    await server.start()
    channel = rpc.channel(address, 5.0)
    try:
        yield pb_grpc.EventHistoryServiceStub(channel), pool
    finally:
        await channel.close()
        await server.stop(None)
        await pool.close()


async def test_an_orders_events_are_those_correlated_with_it_and_those_its_service_relates_to_it(
    stub: tuple[pb_grpc.EventHistoryServiceStub, AsyncConnectionPool],
) -> None:
    client, _ = stub
    reply: pb.ListEventsResponse = await client.ListEvents(pb.ListEventsRequest(correlation_ids=["o-1"]))
    assert reply.service == "toy" and not reply.truncated
    assert [(e.seq, e.type.rsplit(".", 1)[-1]) for e in reply.events] == [
        (1, "OrderPlaced"), (3, "KeyReserved"), (4, "KeyReserved"),
    ]
    first = reply.events[0]
    assert (first.aggregate_type, first.aggregate_id, first.correlation_id) == ("Order", "o-1", "o-1")
    assert json.loads(first.payload_json) == {"orderId": "o-1", "buyerId": "b-1"}
    assert first.occurred_at.seconds > 0 and first.event_id


async def test_a_keys_events_are_its_orders_events_that_name_it(
    stub: tuple[pb_grpc.EventHistoryServiceStub, AsyncConnectionPool],
) -> None:
    client, _ = stub
    reply = await client.ListEvents(pb.ListEventsRequest(key_id="k-7"))
    assert [e.seq for e in reply.events] == [3]
    # A service that knows nothing of the key finds it in the orders it is asked about.
    reply = await client.ListEvents(pb.ListEventsRequest(correlation_ids=["o-2"], key_id="k-8"))
    assert [e.seq for e in reply.events] == [4]
    assert (await client.ListEvents(pb.ListEventsRequest(key_id="k-unknown"))).events == []


async def test_an_answer_is_bounded_and_says_when_more_matched(
    stub: tuple[pb_grpc.EventHistoryServiceStub, AsyncConnectionPool],
) -> None:
    client, _ = stub
    reply = await client.ListEvents(pb.ListEventsRequest(correlation_ids=["o-1"], limit=2))
    assert [e.seq for e in reply.events] == [1, 3] and reply.truncated


async def test_a_request_that_names_nothing_is_refused(
    stub: tuple[pb_grpc.EventHistoryServiceStub, AsyncConnectionPool],
) -> None:
    client, _ = stub
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.ListEvents(pb.ListEventsRequest())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.ListEvents(pb.ListEventsRequest(correlation_ids=[f"o-{i}" for i in range(101)]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_look_up_can_use_the_indexes_instead_of_scanning_the_envelopes(
    stub: tuple[pb_grpc.EventHistoryServiceStub, AsyncConnectionPool],
) -> None:
    _, pool = stub
    async with pool.connection() as conn:
        await conn.execute("SET LOCAL enable_seqscan = off")
        cur = await conn.execute(
            "EXPLAIN SELECT seq, envelope, occurred_at FROM events"
            " WHERE correlation_id = ANY(%s::text[]) OR seq = ANY(%s::bigint[]) ORDER BY seq LIMIT 10",
            (["o-1"], [4]),
        )
        rows: list[Any] = await cur.fetchall()
    plan = "\n".join(r["QUERY PLAN"] for r in rows)
    assert "Seq Scan" not in plan and "events_correlation" in plan
