"""Development-only simulators of the partner's top-up API, an SMS provider and the app's push service
(aiohttp).

They run in the test process (tests start `simulators_app` on a local port) or, in a development stack, in
the fulfillment process when QUANYI_SIMULATORS_ENABLED is set and QUANYI_FULFILLMENT_SIMULATORS_LISTEN
names a loopback address: nothing else reaches them, and a deployed fulfillment never starts them.

Partner top-up (`POST /v1/topups`, bearer API key, `Idempotency-Key`): credits a known account with a key
once; a repeated idempotency key answers the first top-up again (`"replayed": true`) and credits nothing;
an unknown account is 404 `{"error": "account_not_found"}`. SMS (`POST /v1/messages`): accepts an E.164
number, else 400 `{"error": "invalid_number"}`; a repeated `out_id` (the caller's id of the message) is the
same message, sent once: the first answer again, with `"replayed": true`. Push (`POST /v1/push`): accepts
a device push token (16 to 256 of letters, digits, `_:.-`), else 400 `{"error": "invalid_device"}`; a
repeated Idempotency-Key is the same push, delivered once.

Realistic failures, set through `POST /_sim/faults` `{"service": "partner"|"sms"|"push", "mode": "ok"|"down"|
"error"|"timeout"|"lost", "count": n, "skip": m}`: "down" answers 503, "error" 500, "timeout" holds the
request past the client's timeout, and "lost" does the work (sends the SMS) and then holds the answer past
the client's timeout (the provider acted, the caller never heard), for `count` requests (0: until reset)
after the next `m` pass.
`GET /_sim/state` shows the credited top-ups and the sent messages (for tests).

Redemption feed (`GET /v1/redemptions?since=<cursor>`, bearer API key): the keys the partner saw used, in
order, 100 a page, with the cursor of the next page; `POST /_sim/redeem {"key_id", "redeemed_at"}` adds one
(a buyer redeeming at the partner).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_DEVICE = re.compile(r"^[A-Za-z0-9_:.-]{16,256}$")


@dataclass
class Faults:
    mode: str = "ok"
    count: int = 0  # 0: until reset
    skip: int = 0  # requests answered normally before the fault begins

    def next_fault(self) -> str:
        if self.mode == "ok":
            return "ok"
        if self.skip > 0:
            self.skip -= 1
            return "ok"
        mode = self.mode
        if self.count > 0:
            self.count -= 1
            if self.count == 0:
                self.mode = "ok"
        return mode


@dataclass
class SimulatorState:
    api_key: str
    accounts: set[str]
    timeout_s: float = 30.0
    topups: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency key
    messages: list[dict[str, str]] = field(default_factory=list)
    sent_by_out_id: dict[str, str] = field(default_factory=dict)  # the caller's id -> the message id
    pushes: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency key
    faults: dict[str, Faults] = field(
        default_factory=lambda: {"partner": Faults(), "sms": Faults(), "push": Faults()}
    )
    requests: dict[str, int] = field(default_factory=lambda: {"partner": 0, "sms": 0, "push": 0})
    redemptions: list[dict[str, str]] = field(default_factory=list)  # the partner's feed, in order
    # The development credential (QUANYI_DEV_CREDENTIAL) that the control routes (/_sim/...) ask for in
    # X-Dev-Credential, as the gateway's payment simulator does; empty: the control routes refuse everyone.
    dev_credential: str = ""


async def _fault(state: SimulatorState, service: str) -> web.Response | None:
    state.requests[service] += 1
    return await _faulty_answer(state, state.faults[service].next_fault())


async def _faulty_answer(state: SimulatorState, mode: str) -> web.Response | None:
    match mode:
        case "down":
            return web.json_response({"error": "unavailable"}, status=503)
        case "error":
            return web.json_response({"error": "internal"}, status=500)
        case "timeout":
            await asyncio.sleep(state.timeout_s)
            return web.json_response({"error": "late"}, status=504)
    return None


def _authorized(state: SimulatorState, request: web.Request) -> bool:
    return secrets.compare_digest(request.headers.get("Authorization", ""), f"Bearer {state.api_key}")


def _developer(state: SimulatorState, request: web.Request) -> bool:
    given = request.headers.get("X-Dev-Credential", "").encode("utf-8", "replace")
    return bool(state.dev_credential) and secrets.compare_digest(given, state.dev_credential.encode())


@web.middleware
async def _control_needs_the_credential(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/_sim/") and not _developer(request.app[STATE], request):
        return web.json_response({"error": "dev_credential_required"}, status=401)
    response: web.StreamResponse = await handler(request)
    return response


STATE = web.AppKey("simulator_state", SimulatorState)


def simulators_app(state: SimulatorState) -> web.Application:
    async def topup(request: web.Request) -> web.Response:
        if (failed := await _fault(state, "partner")) is not None:
            return failed
        if not _authorized(state, request):
            return web.json_response({"error": "unauthorized"}, status=401)
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return web.json_response({"error": "idempotency_key_required"}, status=400)
        if key in state.topups:
            return web.json_response(state.topups[key] | {"replayed": True})
        body = await request.json()
        if body.get("account") not in state.accounts:
            return web.json_response({"error": "account_not_found"}, status=404)
        done = {"topup_id": f"tu-{len(state.topups) + 1}", "status": "credited", "account": body["account"],
                "key_id": body.get("key_id", ""), "code": body.get("code", "")}
        state.topups[key] = done
        return web.json_response(done | {"replayed": False})

    async def message(request: web.Request) -> web.Response:
        state.requests["sms"] += 1
        mode = state.faults["sms"].next_fault()
        if mode != "lost" and (failed := await _faulty_answer(state, mode)) is not None:
            return failed
        if not _authorized(state, request):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        if not isinstance(body.get("to"), str) or not _E164.match(body["to"]):
            return web.json_response({"error": "invalid_number"}, status=400)
        out_id = body.get("out_id") if isinstance(body.get("out_id"), str) else ""
        replayed = bool(out_id) and out_id in state.sent_by_out_id
        if not replayed:
            state.messages.append({"to": body["to"], "text": str(body.get("text", "")), "out_id": out_id})
            if out_id:
                state.sent_by_out_id[out_id] = f"sms-{len(state.messages)}"
        if mode == "lost":  # sent; the answer never reaches the caller
            await asyncio.sleep(state.timeout_s)
            return web.json_response({"error": "late"}, status=504)
        message_id = state.sent_by_out_id[out_id] if out_id else f"sms-{len(state.messages)}"
        return web.json_response({"message_id": message_id, "replayed": replayed})

    async def push(request: web.Request) -> web.Response:
        if (failed := await _fault(state, "push")) is not None:
            return failed
        if not _authorized(state, request):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        if not isinstance(body.get("device"), str) or not _DEVICE.match(body["device"]):
            return web.json_response({"error": "invalid_device"}, status=400)
        key = request.headers.get("Idempotency-Key", "") or f"push-{len(state.pushes) + 1}"
        if key not in state.pushes:
            state.pushes[key] = {"device": body["device"], "title": str(body.get("title", "")),
                                 "body": str(body.get("body", "")), "data": body.get("data", {})}
        return web.json_response({"push_id": key})

    async def feed(request: web.Request) -> web.Response:
        if (failed := await _fault(state, "partner")) is not None:
            return failed
        if not _authorized(state, request):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            since = max(0, int(request.query.get("since", "0")))
        except ValueError:
            return web.json_response({"error": "bad_cursor"}, status=400)
        page = state.redemptions[since:since + 100]
        return web.json_response({"redemptions": page, "next": str(since + len(page))})

    async def redeem(request: web.Request) -> web.Response:
        body = await request.json()
        state.redemptions.append({
            "key_id": str(body.get("key_id", "")), "redeemed_at": str(body.get("redeemed_at", "")),
        })
        return web.json_response({"seq": len(state.redemptions)})

    async def faults(request: web.Request) -> web.Response:
        body = await request.json()
        service, mode = body.get("service"), body.get("mode", "ok")
        if service not in state.faults or mode not in ("ok", "down", "error", "timeout", "lost"):
            return web.json_response({"error": "bad_fault"}, status=400)
        state.faults[service] = Faults(mode, int(body.get("count", 0)), int(body.get("skip", 0)))
        return web.json_response({"service": service, "mode": mode})

    async def show(_: web.Request) -> web.Response:
        return web.json_response({
            "topups": list(state.topups.values()), "messages": state.messages, "requests": state.requests,
            "pushes": list(state.pushes.values()),
        })

    app = web.Application(middlewares=[_control_needs_the_credential])
    app[STATE] = state
    app.router.add_post("/v1/topups", topup)
    app.router.add_post("/v1/messages", message)
    app.router.add_post("/v1/push", push)
    app.router.add_get("/v1/redemptions", feed)
    app.router.add_post("/_sim/redeem", redeem)
    app.router.add_post("/_sim/faults", faults)
    app.router.add_get("/_sim/state", show)
    return app


async def start_simulators(state: SimulatorState, host: str, port: int) -> web.AppRunner:
    """Serve the simulators on host:port; the caller cleans the runner up."""
    runner = web.AppRunner(simulators_app(state))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
