"""The EventSource port (application.history) on each service's quanyi.common.v1.EventHistoryService."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from quanyi.common.v1 import history_pb2 as pb
from quanyi.common.v1 import history_pb2_grpc as pb_grpc
from quanyi_platform import rpc
from quanyi_platform.config import PlatformSettings
from quanyi_platform.event_history import from_proto
from quanyi_platform.history import HistoryEvent

from quanyi_gateway.adapters.peers import Peers
from quanyi_gateway.application.history import SourceUnavailable

# The services that keep events, in the order the history names them.
SERVICES = ("orders", "inventory", "fulfillment", "ledger", "risk")


class GrpcEventSource:
    """One service's EventHistoryService; any failed call (down, deadline, refusal) is SourceUnavailable."""

    def __init__(self, name: str, channel: grpc.aio.Channel, timeout_s: float) -> None:
        self.name = name
        self._stub = pb_grpc.EventHistoryServiceStub(channel)
        self._timeout_s = timeout_s

    async def events(self, correlation_ids: Sequence[str], key_id: str) -> tuple[list[HistoryEvent], bool]:
        try:
            reply: pb.ListEventsResponse = await self._stub.ListEvents(
                pb.ListEventsRequest(correlation_ids=list(correlation_ids), key_id=key_id),
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as exc:
            raise SourceUnavailable(self.name) from exc
        return [from_proto(self.name, e) for e in reply.events], reply.truncated


class EventSources:
    """A source per service: the peers' channels, and one of its own for risk (which the gateway asks for
    nothing else; its absence must not make the gateway unready)."""

    def __init__(self, peers: Peers, settings: PlatformSettings) -> None:
        token = settings.service_token.get_secret_value()
        self._risk = rpc.channel(settings.risk_grpc, settings.grpc_deadline_s, token=token)
        channels = {**peers.channels, "risk": self._risk}
        self.sources = [GrpcEventSource(n, channels[n], settings.grpc_deadline_s) for n in SERVICES]

    async def close(self) -> None:
        await self._risk.close()
