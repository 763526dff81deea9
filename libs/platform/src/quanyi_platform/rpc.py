"""gRPC plumbing: trace context and correlation id in metadata, deadlines on every call."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace

from quanyi_platform import identity, telemetry
from quanyi_platform.config import PlatformSettings
from quanyi_platform.transient import is_transient

log = logging.getLogger(__name__)

# Health service names. The overall status ("") is liveness: SERVING while the process runs. READY is
# readiness: SERVING once every consumer of the process has its first partition assignment, so work
# sent to the service is picked up at once (Kubernetes readiness probes and the gateway's /readyz).
READY = "quanyi.ready"
_health: weakref.WeakKeyDictionary[grpc.aio.Server, health.aio.HealthServicer] = weakref.WeakKeyDictionary()


# This process's service token (quanyi_platform.identity), sent on every call of the channels it opens.
_service_token = ""


def use_service_token(token: str) -> None:
    """Send `token` (this process's service identity in development) on the calls of channels opened
    from now on; `service.main` sets it from the settings."""
    global _service_token
    _service_token = token


class _ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds traceparent and x-correlation-id to the call's metadata, the service token when there is one,
    and a deadline when none is set."""

    def __init__(self, deadline_s: float, token: str = "") -> None:
        self._deadline_s = deadline_s
        self._token = token

    async def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Awaitable[Any]], client_call_details: Any, request: Any
    ) -> Any:
        metadata = list(client_call_details.metadata or [])
        metadata.extend(telemetry.inject_headers().items())
        if self._token:
            metadata.append((identity.TOKEN_HEADER, self._token))
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout if client_call_details.timeout is not None else self._deadline_s,
            grpc.aio.Metadata(*metadata),
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


@dataclass(frozen=True)
class ClientTls:
    """A client's side of mutual TLS (PEM bytes): the CA that signed the server's certificate, and this
    service's own certificate and key, whose subject common name is its identity (identity.peer_identity)."""

    ca: bytes
    cert: bytes
    key: bytes = field(repr=False)

    @classmethod
    def from_files(cls, ca: str, cert: str, key: str) -> ClientTls | None:
        """From PEM paths; None when no CA is configured (plaintext). A CA without both certificate and
        key is refused: a server that requires client certificates would refuse every call."""
        if not ca:
            return None
        if not cert or not key:
            raise ValueError("mutual TLS needs this service's certificate and key besides the CA")
        return cls(Path(ca).read_bytes(), Path(cert).read_bytes(), Path(key).read_bytes())


def inventory_tls(settings: PlatformSettings) -> ClientTls | None:
    """This service's mutual TLS to inventory (inventory_grpc_tls_ca, grpc_tls_cert/_key), or None."""
    return ClientTls.from_files(settings.inventory_grpc_tls_ca, settings.grpc_tls_cert, settings.grpc_tls_key)


def channel(
    target: str, deadline_s: float = 5.0, token: str | None = None, tls: ClientTls | None = None
) -> grpc.aio.Channel:
    """A channel with tracing and default deadlines; its calls carry `token` (default: this process's,
    `use_service_token`) as the caller's service identity. Plaintext (mTLS is the mesh's job in the
    cluster), or mutual TLS with `tls`, where the certificate is the identity a server believes."""
    interceptors = [_ClientInterceptor(deadline_s, _service_token if token is None else token)]
    options = [
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30_000),
        # Spread calls over every address the name resolves to (pods behind a headless Service).
        ("grpc.lb_policy_name", "round_robin"),
        # Connections of this channel's own, not gRPC's process-wide pool's, which shares a connection among
        # channels to the same address: a new channel would inherit another's connection in reconnect
        # back-off from a server since stopped and fail its first calls UNAVAILABLE "Connection refused",
        # though a new server listens there now (libs/platform/tests/test_channels.py).
        ("grpc.use_local_subchannel_pool", 1),
    ]
    if tls is None:
        return grpc.aio.insecure_channel(target, interceptors=interceptors, options=options)
    credentials = grpc.ssl_channel_credentials(tls.ca, private_key=tls.key, certificate_chain=tls.cert)
    return grpc.aio.secure_channel(target, credentials, interceptors=interceptors, options=options)


class _ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Continues the caller's trace and correlation id; turns a passing failure (is_transient: an exhausted
    pool, a lost connection, a concurrent writer) into UNAVAILABLE, which callers retry, and any other
    unexpected exception into INTERNAL."""

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], handler_call_details: Any
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        carrier = {k: v for k, v in (handler_call_details.invocation_metadata or ()) if isinstance(v, str)}
        method = handler_call_details.method

        async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with telemetry.continue_trace(carrier, method, kind=trace.SpanKind.SERVER):
                try:
                    return await inner(request, context)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    if is_transient(exc):
                        log.warning("transient failure in %s: %s", method, type(exc).__name__)
                        await context.abort(grpc.StatusCode.UNAVAILABLE, "busy; retry later")
                    log.exception("unhandled error in %s", method)
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")

        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def server(max_message_bytes: int | None = None) -> grpc.aio.Server:
    """A server that continues callers' traces; `max_message_bytes` raises gRPC's 4 MiB default."""
    options: list[tuple[str, int]] = [("grpc.so_reuseport", 0)]
    if max_message_bytes:
        options += [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
    srv = grpc.aio.server(interceptors=[_ServerInterceptor()], options=options)
    # The standard gRPC health service, for Kubernetes grpc probes: "" is liveness, READY readiness.
    # Until set_ready, a check of READY answers NOT_FOUND, which probes take as not ready.
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, srv)
    _health[srv] = servicer
    return srv


async def set_ready(srv: grpc.aio.Server, ready: bool) -> None:
    """Report the server's process ready (or no longer ready) under the health service name READY."""
    status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
    await _health[srv].set(READY, status)


async def is_ready(channel: grpc.aio.Channel, timeout_s: float) -> bool:
    """Whether the peer behind `channel` reports READY as SERVING within `timeout_s` (NOT_FOUND: no)."""
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=READY), timeout=timeout_s
        )
    except grpc.aio.AioRpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def serve(srv: grpc.aio.Server) -> None:
    """Wait until `srv` terminates; a component for service.run_components.

    Shielded: cancelling wait_for_termination() would cancel grpc's own shutdown future, and the
    server.stop() that follows would then raise CancelledError instead of stopping gracefully.
    """
    await asyncio.shield(srv.wait_for_termination())
