"""The gateway's internal gRPC server: BuyerContactsService, so that a service writing to a buyer (the
delivery e-mail) gets the address from its owner at that moment instead of from events."""

from __future__ import annotations

import logging

import grpc
from quanyi.gateway.v1 import contacts_service_pb2 as pb
from quanyi.gateway.v1 import contacts_service_pb2_grpc as pb_grpc
from quanyi_platform import rpc

from quanyi_gateway.application.privacy import ContactStatus, Privacy, TooManyBuyers

log = logging.getLogger(__name__)

_STATUS = {
    ContactStatus.ACTIVE: pb.CONTACT_STATUS_ACTIVE,
    ContactStatus.UNKNOWN: pb.CONTACT_STATUS_UNKNOWN,
    ContactStatus.ERASED: pb.CONTACT_STATUS_ERASED,
}


class BuyerContactsServicer(pb_grpc.BuyerContactsServiceServicer):
    """Translates GetContacts into Privacy.contacts; logs how many and why, never an address or a target."""

    def __init__(self, privacy: Privacy) -> None:
        self._privacy = privacy

    async def GetContacts(
        self, request: pb.GetContactsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetContactsResponse:
        try:
            contacts = await self._privacy.contacts(list(request.buyer_ids))
        except TooManyBuyers as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        log.info("buyer contacts read", extra={"buyers": len(contacts), "purpose": request.purpose[:64]})
        return pb.GetContactsResponse(
            contacts=[
                pb.BuyerContact(
                    buyer_id=c.buyer_id, email=c.email, status=_STATUS[c.status],
                    targets=[pb.DeliveryTarget(channel=ch, target=t) for ch, t in c.targets],
                )
                for c in contacts
            ]
        )


async def start_server(privacy: Privacy, listen: str) -> tuple[grpc.aio.Server, int]:
    """Serve BuyerContactsService on `listen` (port 0: any free one), started and marked ready; returns
    the server, which the caller stops, and the port it took."""
    server = rpc.server()
    pb_grpc.add_BuyerContactsServiceServicer_to_server(BuyerContactsServicer(privacy), server)
    port = server.add_insecure_port(listen)
    await server.start()
    await rpc.set_ready(server, True)
    return server, port
