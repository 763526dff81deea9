"""RevealKeys over mutual TLS, as in production: inventory's gRPC port started from its mTLS settings
(bootstrap.add_port), callers holding certificates of a CA the test makes. The identity is the verified
certificate's common name: fulfillment's certificate reveals the keys reserved to the order it names;
another service's valid certificate is refused (PERMISSION_DENIED) and audited as that identity; a caller
with no certificate does not get past the handshake; neither a named actor nor a token beside a
certificate changes who calls."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from psycopg_pool import AsyncConnectionPool
from quanyi.inventory.v1 import events_pb2 as events
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.config import Settings
from quanyi_inventory.entrypoints.grpc_server import InventoryServicer
from quanyi_platform import rpc
from quanyi_platform.config import PlatformSettings

from .conftest import SERVICE_TOKENS, Pay, StockSku, UowFactory, order_paid
from .test_reveal_identity import audit, code_of

_NOW = datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Issued:
    cert: bytes
    key: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Ca:
    """A certificate authority of the test's own."""

    def __init__(self, name: str) -> None:
        self.key = _key()
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_NOW - datetime.timedelta(minutes=5))
            .not_valid_after(_NOW + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str | None, *, server: bool = False, san_dns: tuple[str, ...] = ()) -> Issued:
        key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in san_dns]
        if server:
            names += [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(self.name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_NOW - datetime.timedelta(minutes=5))
            .not_valid_after(_NOW + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


@dataclass(frozen=True)
class MtlsInventory:
    target: str
    ca: Ca
    tmp: Path

    def channel(self, client: Issued | None, token: str = "") -> grpc.aio.Channel:
        """A channel that trusts the test's CA and presents `client` (None: no certificate at all)."""
        if client is None:
            credentials = grpc.ssl_channel_credentials(self.ca.pem)
            return grpc.aio.secure_channel(self.target, credentials)
        return rpc.channel(self.target, deadline_s=10, token=token,
                           tls=rpc.ClientTls(self.ca.pem, client.cert, client.key))


Connect = Callable[[Issued | None], pb_grpc.InventoryServiceStub]


@pytest.fixture
async def mtls(
    settings: Settings, uow: UowFactory, keyring: Keyring, tmp_path: Path
) -> AsyncIterator[MtlsInventory]:
    """Inventory's gRPC server with its production transport: mTLS from its settings (PEM paths)."""
    ca = Ca("quanyi test CA")
    served = ca.issue("inventory", server=True)
    (tmp_path / "server.pem").write_bytes(served.cert)
    (tmp_path / "server.key").write_bytes(served.key)
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    tls = settings.model_copy(update={
        "inventory_grpc_tls_cert": str(tmp_path / "server.pem"),
        "inventory_grpc_tls_key": str(tmp_path / "server.key"),
        "inventory_grpc_tls_client_ca": str(tmp_path / "ca.pem"),
    })
    server = bootstrap.grpc_server(tls)
    pb_grpc.add_InventoryServiceServicer_to_server(
        InventoryServicer(
            uow, keyring, import_max_rows=1000, service_tokens=bootstrap.service_tokens(tls),
            reveal_policy=bootstrap.reveal_policy(tls),
        ),
        server,
    )
    port = bootstrap.add_port(server, tls)
    await server.start()
    try:
        yield MtlsInventory(f"127.0.0.1:{port}", ca, tmp_path)
    finally:
        await server.stop(None)


@pytest.fixture
async def stub_with(mtls: MtlsInventory) -> AsyncIterator[Callable[..., pb_grpc.InventoryServiceStub]]:
    channels: list[grpc.aio.Channel] = []

    def make(client: Issued | None, token: str = "") -> pb_grpc.InventoryServiceStub:
        channels.append(mtls.channel(client, token))
        return pb_grpc.InventoryServiceStub(channels[-1])

    try:
        yield make
    finally:
        for channel in channels:
            await channel.close()


async def test_fulfillments_certificate_reveals_the_keys_reserved_to_the_order_it_names_and_is_the_audited_actor(
    mtls: MtlsInventory, stub_with: Callable[..., pb_grpc.InventoryServiceStub], stock_sku: StockSku, pay: Pay,
    pool: AsyncConnectionPool,
) -> None:
    sku = await stock_sku(["K-1", "K-2"])
    await pay(order_paid("o-1", [(sku, 1)]), order_paid("o-2", [(sku, 1)]))
    fulfillment = stub_with(mtls.ca.issue("fulfillment"))
    # The request names another actor: the certificate says who calls.
    revealed = await fulfillment.RevealKeys(pb.RevealKeysRequest(order_id="o-1", actor="gateway", purpose="delivery"))
    assert len(revealed.keys) == 1 and revealed.keys[0].code in ("K-1", "K-2")
    [(kind, record)] = await audit(pool, "o-1")
    assert kind == "KeysRevealed" and isinstance(record, events.KeysRevealed)
    assert (record.actor, record.on_behalf_of, record.purpose) == ("fulfillment", "gateway", "delivery")
    # Only keys reserved to the order it names: o-2's key asked for under o-1 is not found.
    other = await fulfillment.RevealKeys(pb.RevealKeysRequest(order_id="o-2", actor="f", purpose="delivery"))
    assert await code_of(fulfillment.RevealKeys(
        pb.RevealKeysRequest(order_id="o-1", actor="f", purpose="delivery", key_ids=[other.keys[0].key_id])
    )) == grpc.StatusCode.NOT_FOUND


async def test_fulfillments_own_client_reaches_an_mtls_inventory_from_its_settings(
    mtls: MtlsInventory, stock_sku: StockSku, pay: Pay, pool: AsyncConnectionPool,
) -> None:
    """The channel every service opens to inventory (rpc.inventory_tls from QUANYI_INVENTORY_GRPC_TLS_CA,
    QUANYI_GRPC_TLS_CERT and _KEY) speaks mTLS, and fulfillment's adapter reveals through it."""
    sku = await stock_sku(["K-1"])
    await pay(order_paid("o-1", [(sku, 1)]))
    mine = mtls.ca.issue("fulfillment")
    (mtls.tmp / "fulfillment.pem").write_bytes(mine.cert)
    (mtls.tmp / "fulfillment.key").write_bytes(mine.key)
    settings = PlatformSettings(
        inventory_grpc=mtls.target, inventory_grpc_tls_ca=str(mtls.tmp / "ca.pem"),
        grpc_tls_cert=str(mtls.tmp / "fulfillment.pem"), grpc_tls_key=str(mtls.tmp / "fulfillment.key"),
    )
    channel = rpc.channel(settings.inventory_grpc, 10, token="", tls=rpc.inventory_tls(settings))
    try:
        [outcome] = await GrpcInventory(channel).reveal_orders([("o-1", [])])
    finally:
        await channel.close()
    assert isinstance(outcome, list) and [secret.code for secret in outcome] == ["K-1"]
    [(kind, record)] = await audit(pool, "o-1")
    assert kind == "KeysRevealed" and isinstance(record, events.KeysRevealed) and record.actor == "fulfillment"


@pytest.mark.parametrize(
    ("common_name", "san", "token_of"),
    [
        ("orders", (), None),  # another service's valid certificate
        ("orders", ("fulfillment",), "fulfillment"),  # ... naming fulfillment in its SAN, with its token too
        ("fulfillment.evil", (), None),  # a name that only begins like fulfillment's
    ],
)
async def test_another_identitys_valid_certificate_is_refused_and_audited_as_that_identity(
    mtls: MtlsInventory, stub_with: Callable[..., pb_grpc.InventoryServiceStub], stock_sku: StockSku, pay: Pay,
    pool: AsyncConnectionPool, common_name: str, san: tuple[str, ...], token_of: str | None,
) -> None:
    sku = await stock_sku(["K-1"])
    await pay(order_paid("o-1", [(sku, 1)]))
    token = SERVICE_TOKENS[token_of] if token_of else ""
    stub = stub_with(mtls.ca.issue(common_name, san_dns=san), token)
    request = pb.RevealKeysRequest(order_id="o-1", actor="fulfillment", purpose="delivery")
    assert await code_of(stub.RevealKeys(request)) == grpc.StatusCode.PERMISSION_DENIED
    [(kind, record)] = await audit(pool, "o-1")
    assert kind == "KeysRevealRefused" and isinstance(record, events.KeysRevealRefused)
    # The audited identity is the certificate's, not the actor the request named nor the token's.
    assert (record.identity, record.reason, record.on_behalf_of) == (common_name, "permission_denied", "fulfillment")
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM key_reveals WHERE order_id = 'o-1'")
        assert (await cur.fetchone())["n"] == 0


async def test_a_certificate_without_a_common_name_proves_nothing_even_beside_fulfillments_token(
    mtls: MtlsInventory, stub_with: Callable[..., pb_grpc.InventoryServiceStub], stock_sku: StockSku, pay: Pay,
    pool: AsyncConnectionPool,
) -> None:
    sku = await stock_sku(["K-1"])
    await pay(order_paid("o-1", [(sku, 1)]))
    stub = stub_with(mtls.ca.issue(None, san_dns=("fulfillment",)), SERVICE_TOKENS["fulfillment"])
    request = pb.RevealKeysRequest(order_id="o-1", actor="fulfillment", purpose="delivery")
    assert await code_of(stub.RevealKeys(request)) == grpc.StatusCode.UNAUTHENTICATED
    [(kind, record)] = await audit(pool, "o-1")
    assert kind == "KeysRevealRefused" and isinstance(record, events.KeysRevealRefused)
    assert (record.identity, record.reason) == ("", "unauthenticated")


async def test_no_client_certificate_or_one_of_another_ca_is_refused_at_the_handshake(
    mtls: MtlsInventory, stub_with: Callable[..., pb_grpc.InventoryServiceStub], stock_sku: StockSku, pay: Pay,
    pool: AsyncConnectionPool,
) -> None:
    sku = await stock_sku(["K-1"])
    await pay(order_paid("o-1", [(sku, 1)]))
    request = pb.RevealKeysRequest(order_id="o-1", actor="fulfillment", purpose="delivery")
    forged = Ca("someone else's CA").issue("fulfillment")
    for client in (None, forged):
        stub = stub_with(client, SERVICE_TOKENS["fulfillment"])
        # The TLS handshake fails: the call never reaches the service (nothing to audit, nothing revealed).
        assert await code_of(stub.RevealKeys(request, timeout=5)) == grpc.StatusCode.UNAVAILABLE
    # A plaintext caller with fulfillment's token does not get in either.
    plain = grpc.aio.insecure_channel(mtls.target)
    try:
        stub = pb_grpc.InventoryServiceStub(plain)
        metadata = (("quanyi-service-token", SERVICE_TOKENS["fulfillment"]),)
        assert await code_of(stub.RevealKeys(request, metadata=metadata, timeout=5)) == grpc.StatusCode.UNAVAILABLE
    finally:
        await plain.close()
    assert await audit(pool, "o-1") == []
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM key_reveals WHERE order_id = 'o-1'")
        assert (await cur.fetchone())["n"] == 0
