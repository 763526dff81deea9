"""The gateway's BuyerContactsService over gRPC, as the ContactBook the e-mail sender needs: where a buyer
can be reached, asked when an e-mail goes out. The answer is used for that round and dropped."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from quanyi.gateway.v1 import contacts_service_pb2 as contacts_pb
from quanyi.gateway.v1 import contacts_service_pb2_grpc as contacts_grpc

from quanyi_fulfillment.application.ports import Address, Contact, ContactsUnavailable, NoAddress

PURPOSE = "delivery e-mail"
# The gateway answers at most this many ids per call.
MAX_IDS = 500

_REASONS = {
    contacts_pb.CONTACT_STATUS_UNKNOWN: "the buyer has no account with an e-mail address",
    contacts_pb.CONTACT_STATUS_ERASED: "the buyer's personal data was erased",
}


class GrpcContacts:
    """Asks the gateway, which owns buyers' personal data, for their addresses. Any failure to get an
    answer is ContactsUnavailable: the e-mails are tried again later, no attempt spent."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = contacts_grpc.BuyerContactsServiceStub(channel)

    async def contacts(self, buyer_ids: Sequence[str]) -> dict[str, Contact]:
        found: dict[str, Contact] = {}
        for start in range(0, len(buyer_ids), MAX_IDS):
            chunk = list(buyer_ids[start : start + MAX_IDS])
            try:
                response = await self._stub.GetContacts(
                    contacts_pb.GetContactsRequest(buyer_ids=chunk, purpose=PURPOSE)
                )
            except grpc.aio.AioRpcError as exc:
                raise ContactsUnavailable(f"gateway GetContacts: {exc.code().name}") from exc
            for contact in response.contacts:
                if contact.status == contacts_pb.CONTACT_STATUS_ACTIVE and contact.email:
                    kept = tuple((t.channel, t.target) for t in contact.targets)
                    found[contact.buyer_id] = Address(contact.email, kept)
                else:
                    found[contact.buyer_id] = NoAddress(
                        _REASONS.get(contact.status, "the buyer has no e-mail address")
                    )
        missing = [b for b in buyer_ids if b not in found]
        if missing:
            raise ContactsUnavailable("gateway GetContacts: answered for other buyers")
        return found
