import json
from typing import Any

import grpc
import pytest

NOTICE = json.dumps({"order_id": "o-1", "amount": {"minor_units": 100, "currency": "CNY"}}).encode()
HEADERS = {
    "content-type": "application/json",
    "X-Psp-Signature": "c2ln",
    "X-Psp-Timestamp": "1700000000",
    "X-Psp-Nonce": "n-1",
    "X-Psp-Serial": "serial-1",
}


async def test_a_notice_is_forwarded_verbatim_to_orders(gw: Any, fake: Any) -> None:
    r = await gw.client.post("/v1/payments/psp-sim/notify", content=NOTICE, headers=HEADERS)
    assert r.status_code == 200
    assert r.json() == {"code": "SUCCESS"}
    (notice,) = fake.notices
    assert (notice.provider, notice.body, notice.signature) == ("psp-sim", NOTICE, "c2ln")
    assert (notice.timestamp, notice.nonce, notice.serial) == ("1700000000", "n-1", "serial-1")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
    ],
)
async def test_orders_refusals_become_problems(
    gw: Any, fake: Any, code: grpc.StatusCode, status: int
) -> None:
    fake.notice_error = code
    r = await gw.client.post("/v1/payments/psp-sim/notify", content=NOTICE, headers=HEADERS)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_notice_without_signature_is_401_and_not_forwarded(gw: Any, fake: Any) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != "X-Psp-Signature"}
    r = await gw.client.post("/v1/payments/psp-sim/notify", content=NOTICE, headers=headers)
    assert r.status_code == 401
    assert fake.notices == []
