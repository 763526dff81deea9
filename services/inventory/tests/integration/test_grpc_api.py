"""The gRPC API through a real server and channel: catalogue, import, reveal, find."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_platform.envelope import open_envelope

from .conftest import Pay

Stub = pb_grpc.InventoryServiceStub


def cny(minor: int) -> money_pb2.Money:
    return money_pb2.Money(minor_units=minor, currency="CNY")


async def new_pool(stub: Stub, threshold: int = 0) -> tuple[str, str]:
    product = await stub.CreateProduct(pb.CreateProductRequest(name="Steam wallet", kind="card_key"))
    sku = await stub.CreateSku(
        pb.CreateSkuRequest(
            product_id=product.product_id, name="Steam 100", price=cny(10_000), low_stock_threshold=threshold
        )
    )
    key_pool = await stub.CreatePool(pb.CreatePoolRequest(sku_id=sku.sku.sku_id, name="main"))
    return sku.sku.sku_id, key_pool.pool_id


async def import_csv(stub: Stub, pool_id: str, csv: str, cost: int = 8_000) -> pb.ImportKeysResponse:
    response: pb.ImportKeysResponse = await stub.ImportKeys(
        pb.ImportKeysRequest(pool_id=pool_id, csv=csv.encode(), unit_cost=cny(cost), actor="admin:alice")
    )
    return response


async def status_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details() or ""


async def events(pool: AsyncConnectionPool) -> list[Any]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT envelope FROM events ORDER BY seq")
        return [open_envelope(bytes(r["envelope"]))[1] for r in await cur.fetchall()]


async def test_a_sku_is_created_for_a_product_and_read_back_with_its_stock(stub: Stub) -> None:
    sku_id, pool_id = await new_pool(stub)
    await import_csv(stub, pool_id, "code\nA-1\nA-2\n")
    sku = (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku
    assert (sku.name, sku.price.minor_units, sku.price.currency) == ("Steam 100", 10_000, "CNY")
    assert sku.available == 2


async def test_a_sku_is_read_back_with_its_own_low_stock_threshold_alone_and_in_the_listing(
    stub: Stub,
) -> None:
    sku_id, _ = await new_pool(stub, threshold=7)
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.low_stock_threshold == 7
    listed = {s.sku_id: s for s in (await stub.ListSkus(pb.ListSkusRequest(page_size=200))).skus}
    assert listed[sku_id].low_stock_threshold == 7


async def test_bad_catalogue_requests_are_refused_with_the_right_status(stub: Stub) -> None:
    product = await stub.CreateProduct(pb.CreateProductRequest(name="Game", kind=""))
    assert product.kind == "card_key"
    pid = product.product_id
    cases = [
        (stub.CreateProduct(pb.CreateProductRequest(name=" ")), grpc.StatusCode.INVALID_ARGUMENT),
        (stub.CreateSku(pb.CreateSkuRequest(product_id=pid, name="x", price=cny(-1))),
         grpc.StatusCode.INVALID_ARGUMENT),
        (stub.CreateSku(pb.CreateSkuRequest(product_id=pid, name="x", price=money_pb2.Money(minor_units=1))),
         grpc.StatusCode.INVALID_ARGUMENT),
        (stub.CreateSku(pb.CreateSkuRequest(product_id=pid, name="", price=cny(1))),
         grpc.StatusCode.INVALID_ARGUMENT),
        (stub.CreateSku(pb.CreateSkuRequest(product_id=pid, name="x")), grpc.StatusCode.INVALID_ARGUMENT),
        (stub.CreateSku(pb.CreateSkuRequest(product_id="nope", name="x", price=cny(1))),
         grpc.StatusCode.NOT_FOUND),
        (stub.GetSku(pb.GetSkuRequest(sku_id="nope")), grpc.StatusCode.NOT_FOUND),
        (stub.CreatePool(pb.CreatePoolRequest(sku_id="nope", name="main")), grpc.StatusCode.NOT_FOUND),
    ]
    for call, expected in cases:
        code, _ = await status_of(call)
        assert code == expected


async def test_duplicates_within_a_file_and_across_files_are_counted_and_stored_once(
    stub: Stub, pool: AsyncConnectionPool
) -> None:
    sku_id, pool_id = await new_pool(stub)
    first = await import_csv(
        stub, pool_id, "code,password\nDUP-1,p1\nDUP-2,p2\nDUP-1,p1\n DUP-2 ,p9\nUNIQ-1,\n"
    )
    assert (first.imported, first.duplicates, list(first.rejected)) == (3, 2, [])
    second = await import_csv(stub, pool_id, "code\nDUP-1\nNEW-1\nUNIQ-1\nNEW-1\n")
    assert (second.imported, second.duplicates) == (1, 3)
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available == 4

    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT batch_id, imported, duplicates, actor, unit_cost_minor FROM key_batches"
            " ORDER BY created_at"
        )
        batches = await cur.fetchall()
    assert [(b["imported"], b["duplicates"], b["actor"], b["unit_cost_minor"]) for b in batches] == [
        (3, 2, "admin:alice", 8_000), (1, 3, "admin:alice", 8_000)
    ]
    imported = [e for e in await events(pool) if isinstance(e, inventory_events.KeysImported)]
    assert [(e.batch_id, e.imported, e.duplicates, e.sku_id) for e in imported] == [
        (first.batch_id, 3, 2, sku_id), (second.batch_id, 1, 3, sku_id)
    ]


async def test_the_same_code_may_be_stored_for_two_different_skus(stub: Stub) -> None:
    _, pool_a = await new_pool(stub)
    _, pool_b = await new_pool(stub)
    assert (await import_csv(stub, pool_a, "code\nSHARED-1\n")).imported == 1
    assert (await import_csv(stub, pool_b, "code\nSHARED-1\n")).imported == 1


async def test_malformed_rows_are_rejected_by_row_number_without_the_key(stub: Stub) -> None:
    _, pool_id = await new_pool(stub)
    long_code = "LONGSECRET" * 30
    csv = f"code,password\nOK-1,x\n,lonely-password\n{long_code},y\nOK-2\n"
    response = await import_csv(stub, pool_id, csv)
    assert response.imported == 2
    assert [(r.row, r.reason) for r in response.rejected] == [
        (3, "empty code"), (4, "code longer than 256 characters")
    ]
    assert all("LONGSECRET" not in r.reason and "lonely" not in r.reason for r in response.rejected)


async def test_files_that_are_not_csv_with_a_code_column_are_refused(stub: Stub) -> None:
    _, pool_id = await new_pool(stub)
    files = [b"", b"serial\nSECRET-NOT-CSV\n", b"\xff\xfeSECRET-BINARY\x00\x01", b"code\n\"SECRET-UNCLOSED"]
    for data in files:
        code, details = await status_of(
            stub.ImportKeys(pb.ImportKeysRequest(pool_id=pool_id, csv=data, unit_cost=cny(1), actor="a"))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert "SECRET" not in details


async def test_an_import_needs_a_known_pool_and_a_valid_unit_cost(stub: Stub) -> None:
    _, pool_id = await new_pool(stub)
    code, _ = await status_of(
        stub.ImportKeys(pb.ImportKeysRequest(pool_id="nope", csv=b"code\nA\n", unit_cost=cny(1), actor="a"))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await status_of(
        stub.ImportKeys(pb.ImportKeysRequest(pool_id=pool_id, csv=b"code\nA\n", unit_cost=cny(-5), actor="a"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_no_plaintext_key_is_stored_in_any_inventory_table_or_log(
    stub: Stub, pool: AsyncConnectionPool, paid: Any, pay: Pay, caplog: pytest.LogCaptureFixture
) -> None:
    """Invariant I5: after an import, an allocation and a reveal, no column of any table of the schema
    holds a code or password, in any encoding we might plausibly have leaked it."""
    caplog.set_level(logging.DEBUG)
    sku_id, pool_id = await new_pool(stub, threshold=1)
    codes = [f"PLAINCODE-{i:04d}-Zq" for i in range(20)]
    passwords = [f"PLAINPASS-{i:04d}-Wx" for i in range(20)]
    csv = "code,password\n" + "".join(f"{c},{p}\n" for c, p in zip(codes, passwords, strict=True))
    await import_csv(stub, pool_id, csv + f"{codes[0]},{passwords[0]}\n,{passwords[1]}\n")
    await pay(paid("order-i5", [(sku_id, 19)]))
    revealed = await stub.RevealKeys(
        pb.RevealKeysRequest(order_id="order-i5", actor="fulfillment", purpose="delivery")
    )
    assert len(revealed.keys) == 19

    secrets = [s.encode() for s in codes + passwords]
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'inventory'"
            " AND data_type IN ('text', 'bytea', 'character varying', 'jsonb', 'json', 'ARRAY')"
        )
        columns = await cur.fetchall()
        tables = {c["table_name"] for c in columns}
        assert {"products", "skus", "pools", "key_batches", "keys", "key_material", "data_keys", "key_reveals",
                "events"} <= tables
        scanned = 0
        for col in columns:
            cur = await conn.execute(
                f'SELECT "{col["column_name"]}"::text AS t, "{col["column_name"]}"::text::bytea AS b'
                f' FROM inventory."{col["table_name"]}"'
                if col["data_type"] != "bytea"
                else f'SELECT NULL AS t, "{col["column_name"]}" AS b FROM inventory."{col["table_name"]}"'
            )
            for row in await cur.fetchall():
                blob = bytes(row["b"] or b"")
                scanned += 1
                for secret in secrets:
                    assert secret not in blob, f"{col['table_name']}.{col['column_name']} holds a key"
                    assert secret.hex().encode() not in blob
    assert scanned > 100
    assert not any(s.decode() in caplog.text for s in secrets)


async def test_reveal_returns_the_orders_keys_and_audits_each_one(
    stub: Stub, pool: AsyncConnectionPool, paid: Any, pay: Pay
) -> None:
    sku_id, pool_id = await new_pool(stub)
    await import_csv(stub, pool_id, "code,password\nR-1,pw-1\nR-2,\nR-3,pw-3\n")
    await pay(paid("order-r", [(sku_id, 2)]))

    response = await stub.RevealKeys(
        pb.RevealKeysRequest(order_id="order-r", actor="fulfillment", purpose="delivery")
    )
    assert [(k.code, k.password, k.sku_id) for k in response.keys] == [
        ("R-1", "pw-1", sku_id), ("R-2", "", sku_id)
    ]
    only = await stub.RevealKeys(
        pb.RevealKeysRequest(
            order_id="order-r", actor="buyer:b1", purpose="user-center", key_ids=[response.keys[1].key_id]
        )
    )
    assert [k.code for k in only.keys] == ["R-2"]

    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT key_id, order_id, actor, purpose, revealed_at FROM key_reveals"
            " ORDER BY revealed_at, reveal_id, position"
        )
        audit = await cur.fetchall()
    assert [(a["key_id"], a["order_id"], a["actor"], a["purpose"]) for a in audit] == [
        (response.keys[0].key_id, "order-r", "fulfillment", "delivery"),
        (response.keys[1].key_id, "order-r", "fulfillment", "delivery"),
        # The audited actor is the identity the caller proved (the stub calls as fulfillment).
        (response.keys[1].key_id, "order-r", "fulfillment", "user-center"),
    ]
    assert all(a["revealed_at"] is not None for a in audit)


async def test_reveal_refuses_orders_without_keys_and_keys_of_other_orders(
    stub: Stub, pool: AsyncConnectionPool, paid: Any, pay: Pay
) -> None:
    sku_id, pool_id = await new_pool(stub)
    await import_csv(stub, pool_id, "code\nX-1\nX-2\n")
    await pay(paid("order-1", [(sku_id, 1)]), paid("order-2", [(sku_id, 1)]))
    mine = await stub.RevealKeys(pb.RevealKeysRequest(order_id="order-2", actor="fulfillment"))

    cases = [
        pb.RevealKeysRequest(order_id="no-such-order", actor="fulfillment"),
        pb.RevealKeysRequest(order_id="order-1", actor="fulfillment", key_ids=[mine.keys[0].key_id]),
    ]
    for request in cases:
        code, _ = await status_of(stub.RevealKeys(request))
        assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await status_of(stub.RevealKeys(pb.RevealKeysRequest(order_id="", actor="fulfillment")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM key_reveals")
        assert (await cur.fetchone())["n"] == 1  # type: ignore[index]


async def test_one_call_reveals_several_orders_keys_audits_each_key_and_answers_each_refusal_apart(
    stub: Stub, pool: AsyncConnectionPool, paid: Any, pay: Pay
) -> None:
    sku_id, pool_id = await new_pool(stub)
    await import_csv(stub, pool_id, "code,password\nM-1,pw-1\nM-2,\nM-3,pw-3\nM-4,\n")
    await pay(paid("order-a", [(sku_id, 2)]), paid("order-b", [(sku_id, 1)]), paid("order-c", [(sku_id, 1)]))
    [c_key] = (await stub.RevealKeys(pb.RevealKeysRequest(order_id="order-c", actor="fulfillment"))).keys
    response = await stub.RevealOrdersKeys(
        pb.RevealOrdersKeysRequest(
            orders=[
                pb.RevealKeysRequest(order_id="order-a", actor="fulfillment", purpose="delivery"),
                pb.RevealKeysRequest(order_id="no-such-order", actor="fulfillment", purpose="delivery"),
                pb.RevealKeysRequest(order_id="order-b", actor="buyer:b1", purpose="user-center"),
                pb.RevealKeysRequest(order_id="order-b", actor="fulfillment", key_ids=[c_key.key_id]),
                pb.RevealKeysRequest(order_id="", actor="fulfillment"),
            ]
        )
    )
    a, missing, b, not_hers, anonymous = response.orders
    assert (a.order_id, a.status_code, [(k.code, k.password) for k in a.keys]) == (
        "order-a", 0, [("M-1", "pw-1"), ("M-2", "")]
    )
    assert (b.order_id, b.status_code, [k.code for k in b.keys]) == ("order-b", 0, ["M-3"])
    assert (missing.order_id, missing.status_code, missing.keys) == (
        "no-such-order", grpc.StatusCode.NOT_FOUND.value[0], []
    )
    assert (not_hers.status_code, not_hers.keys) == (grpc.StatusCode.NOT_FOUND.value[0], [])
    assert (anonymous.status_code, anonymous.keys) == (grpc.StatusCode.INVALID_ARGUMENT.value[0], [])
    assert all(r.status_message for r in (missing, not_hers, anonymous))

    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT key_id, order_id, actor, purpose FROM key_reveals WHERE order_id <> 'order-c'"
            " ORDER BY order_id, position"
        )
        audit = [(r["key_id"], r["order_id"], r["actor"], r["purpose"]) for r in await cur.fetchall()]
    assert audit == [
        (a.keys[0].key_id, "order-a", "fulfillment", "delivery"),
        (a.keys[1].key_id, "order-a", "fulfillment", "delivery"),
        (b.keys[0].key_id, "order-b", "fulfillment", "user-center"),
    ]
    revealed = [e for e in await events(pool) if isinstance(e, inventory_events.KeysRevealed)]
    assert [(e.order_id, len(e.key_ids)) for e in revealed] == [("order-c", 1), ("order-a", 2), ("order-b", 1)]


async def test_the_audit_trail_cannot_be_changed(
    stub: Stub, pool: AsyncConnectionPool, paid: Any, pay: Pay
) -> None:
    sku_id, pool_id = await new_pool(stub)
    await import_csv(stub, pool_id, "code\nX-1\n")
    await pay(paid("order-1", [(sku_id, 1)]))
    await stub.RevealKeys(pb.RevealKeysRequest(order_id="order-1", actor="fulfillment"))
    for statement in ["UPDATE key_reveals SET actor = 'someone else'", "DELETE FROM key_reveals"]:
        with pytest.raises(Exception, match="append-only"):
            async with pool.connection() as conn:
                await conn.execute(statement)


async def test_find_key_finds_a_key_by_its_code_and_names_its_order(
    stub: Stub, pool: AsyncConnectionPool, paid: Any, pay: Pay
) -> None:
    sku_id, pool_id = await new_pool(stub)
    await import_csv(stub, pool_id, "code\nF-1\nF-2\n")
    await pay(paid("order-f", [(sku_id, 1)]))

    held = await stub.FindKey(pb.FindKeyRequest(code=" F-1 "))
    free = await stub.FindKey(pb.FindKeyRequest(code="F-2"))
    assert (held.order_id, held.sku_id, free.order_id) == ("order-f", sku_id, "")
    assert held.key_id != free.key_id
    code, details = await status_of(stub.FindKey(pb.FindKeyRequest(code="f-1")))
    assert code == grpc.StatusCode.NOT_FOUND and "f-1" not in details
    code, _ = await status_of(stub.FindKey(pb.FindKeyRequest(code="  ")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT




async def test_the_catalogue_pages_through_every_sku_oldest_first_with_its_stock(stub: Stub) -> None:
    first_id, pool_id = await new_pool(stub)
    await import_csv(stub, pool_id, "code\nL-1\nL-2\nL-3\n")
    others = [(await new_pool(stub))[0] for _ in range(4)]
    seen: list[pb.Sku] = []
    token = ""
    pages = 0
    while True:
        page = await stub.ListSkus(pb.ListSkusRequest(page_size=2, page_token=token))
        assert len(page.skus) <= 2
        seen.extend(page.skus)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert [s.sku_id for s in seen] == [first_id, *others]
    assert pages == 3
    assert seen[0].available == 3 and all(s.available == 0 for s in seen[1:])
    assert (seen[0].name, seen[0].price.minor_units) == ("Steam 100", 10_000)
    everything = await stub.ListSkus(pb.ListSkusRequest())
    assert [s.sku_id for s in everything.skus] == [first_id, *others] and everything.next_page_token == ""


async def test_a_page_size_out_of_range_or_a_forged_token_is_refused(stub: Stub) -> None:
    assert (await status_of(stub.ListSkus(pb.ListSkusRequest(page_size=201))))[0] == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (await status_of(stub.ListSkus(pb.ListSkusRequest(page_size=-1))))[0] == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (await status_of(stub.ListSkus(pb.ListSkusRequest(page_token="x" * 65))))[0] == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_concurrent_imports_of_overlapping_codes_into_one_sku_store_each_code_once(stub: Stub) -> None:
    sku_id, pool_id = await new_pool(stub)
    codes = [f"OVER-{i:04d}" for i in range(2_000)]
    files = ["code\n" + "\n".join(codes[:1_500]) + "\n", "code\n" + "\n".join(reversed(codes[500:])) + "\n"]
    results = await asyncio.gather(*(import_csv(stub, pool_id, f) for f in files))
    assert sum(r.imported for r in results) == 2_000
    assert sum(r.duplicates for r in results) == 1_000
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available == 2_000
