"""Service identity: who is calling, as the transport proves it, never as the caller says.

Two proofs are accepted:
- mTLS (production): the server requires a client certificate signed by the configured CA
  (`rpc.add_port` with `ServerTls`); the identity is the certificate's subject common name.
- A service token (development and tests): `quanyi dev` creates a random token per service, gives each
  service its own (`QUANYI_SERVICE_TOKEN`, sent by `rpc.channel` in the `quanyi-service-token` metadata)
  and the server the map of identities to tokens (`ServiceTokens`). Tokens are compared in constant time.

A server that checks identities asks `peer_identity(context, tokens)`; None means unauthenticated.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

TOKEN_HEADER = "quanyi-service-token"


def new_token() -> str:
    """A fresh random service token."""
    return secrets.token_urlsafe(32)


class ServiceTokens:
    """The identities a server accepts by token: identity -> token."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = {identity: token.encode() for identity, token in tokens.items() if identity and token}

    @classmethod
    def from_json(cls, text: str) -> ServiceTokens:
        """From a JSON object {identity: token}; empty text means none."""
        value = json.loads(text) if text.strip() else {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError("service tokens must be a JSON object of identity -> token strings")
        return cls(value)

    def identify(self, token: str | bytes | None) -> str | None:
        """The identity holding `token`, or None. Every entry is compared, in constant time each."""
        if not token:
            return None
        given = token.encode() if isinstance(token, str) else token
        found = None
        for identity, expected in self._tokens.items():
            if hmac.compare_digest(given, expected):
                found = identity
        return found

    def __repr__(self) -> str:  # never the tokens
        return f"ServiceTokens({sorted(self._tokens)})"


def peer_identity(context: Any, tokens: ServiceTokens) -> str | None:
    """The caller's identity on a gRPC server: the verified client certificate's common name when the
    call came over mTLS, else the identity whose token the call carries; None when neither proves one.
    Over TLS the certificate is the only proof: a token beside it (or a certificate without a common
    name) proves nothing, so a caller with a certificate of its own cannot borrow a stolen token."""
    auth = context.auth_context() or {}
    if auth.get("transport_security_type") == [b"ssl"]:
        names = auth.get("x509_common_name") or []
        return bytes(names[0]).decode() if names else None
    for key, value in context.invocation_metadata() or ():
        if key == TOKEN_HEADER:
            return tokens.identify(value)
    return None
