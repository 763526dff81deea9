"""Inventory's gRPC API: translate requests, call the use case with a unit of work, map errors.

No response error, and no log line written here, ever contains a card key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

import grpc
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_platform.identity import ServiceTokens, peer_identity

from quanyi_inventory.adapters.crypto import KeyringError
from quanyi_inventory.adapters.mappers import components_from_proto, strategy_from_proto
from quanyi_inventory.application import catalogue, import_jobs, import_keys, reveal, rotate
from quanyi_inventory.application.ports import InventoryUnitOfWork, Keys, Sku
from quanyi_inventory.domain import catalogue as rules
from quanyi_inventory.domain.custody import RevealPolicy
from quanyi_inventory.domain.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from quanyi_inventory.entrypoints import key_file_import
from quanyi_inventory.entrypoints.pool_tools import PoolTools

T = TypeVar("T")

# The response lists at most this many rejected rows (all are counted in the batch): a file of a
# million bad rows must not make a response larger than a client accepts.
MAX_REJECTED_LISTED = 1000


def _money(m: money_pb2.Money, what: str) -> rules.Money:
    return rules.money(m.minor_units, m.currency, what)


def _sku(sku: Sku) -> pb.Sku:
    return pb.Sku(
        sku_id=sku.sku_id,
        product_id=sku.product_id,
        name=sku.name,
        price=money_pb2.Money(minor_units=sku.price.minor_units, currency=sku.price.currency),
        available=sku.available,
        low_stock_threshold=sku.low_stock_threshold,
    )


def _revealed(key: reveal.RevealedKey) -> pb.RevealedKey:
    return pb.RevealedKey(key_id=key.key_id, sku_id=key.sku_id, code=key.code, password=key.password)


def _order_keys(result: reveal.RevealResult) -> pb.OrderKeysRevealed:
    if isinstance(result.error, InvalidInput):
        code, message = grpc.StatusCode.INVALID_ARGUMENT, str(result.error)
    elif isinstance(result.error, NotFound):
        code, message = grpc.StatusCode.NOT_FOUND, str(result.error)
    elif isinstance(result.error, Unauthenticated):
        code, message = grpc.StatusCode.UNAUTHENTICATED, str(result.error)
    elif isinstance(result.error, PermissionDenied):
        code, message = grpc.StatusCode.PERMISSION_DENIED, str(result.error)
    else:
        code, message = grpc.StatusCode.OK, ""
    return pb.OrderKeysRevealed(
        order_id=result.order_id,
        keys=[_revealed(k) for k in result.keys],
        status_code=code.value[0],
        status_message=message,
    )


class InventoryServicer(PoolTools, pb_grpc.InventoryServiceServicer):
    def __init__(
        self,
        uow: Callable[[], InventoryUnitOfWork],
        keyring: Keys,
        *,
        import_max_rows: int,
        service_tokens: ServiceTokens | None = None,
        reveal_policy: RevealPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._keyring = keyring
        self._import_max_rows = import_max_rows
        # Who may reveal keys: callers prove their identity by mTLS or by one of these tokens.
        self._tokens = service_tokens or ServiceTokens({})
        self._reveal_policy = reveal_policy or RevealPolicy()

    async def _run(self, context: grpc.aio.ServicerContext, call: Awaitable[T]) -> T:
        """Await the use case; domain errors become status codes with their safe message."""
        try:
            return await call
        except InvalidInput as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except Unauthenticated as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        except PermissionDenied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        raise AssertionError("unreachable")

    async def CreateProduct(
        self, request: pb.CreateProductRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProductResponse:
        product = await self._run(
            context, catalogue.create_product(self._uow(), name=request.name, kind=request.kind)
        )
        return pb.CreateProductResponse(product_id=product.product_id, name=product.name, kind=product.kind)

    async def CreateSku(
        self, request: pb.CreateSkuRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateSkuResponse:
        async def create() -> Sku:
            if not request.HasField("price"):
                raise InvalidInput("price is required")
            keys, entitlements = components_from_proto(request.components)
            return await catalogue.create_sku(
                self._uow(),
                product_id=request.product_id,
                name=request.name,
                price=_money(request.price, "price"),
                low_stock_threshold=request.low_stock_threshold,
                allocation_strategy=strategy_from_proto(request.allocation_strategy),
                components=keys,
                entitlements=entitlements,
            )

        return pb.CreateSkuResponse(sku=_sku(await self._run(context, create())))

    async def GetSku(self, request: pb.GetSkuRequest, context: grpc.aio.ServicerContext) -> pb.GetSkuResponse:
        sku = await self._run(context, catalogue.get_sku(self._uow(), request.sku_id))
        return pb.GetSkuResponse(sku=_sku(sku))

    async def ListSkus(
        self, request: pb.ListSkusRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSkusResponse:
        page = await self._run(
            context,
            catalogue.list_skus(self._uow(), page_size=request.page_size, page_token=request.page_token),
        )
        return pb.ListSkusResponse(skus=[_sku(s) for s in page.skus], next_page_token=page.next_page_token)

    async def CreatePool(
        self, request: pb.CreatePoolRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreatePoolResponse:
        pool = await self._run(
            context,
            catalogue.create_pool(
                self._uow(), sku_id=request.sku_id, name=request.name, priority=request.priority
            ),
        )
        return pb.CreatePoolResponse(pool_id=pool.pool_id, sku_id=pool.sku_id, name=pool.name)

    async def SetPoolPriority(
        self, request: pb.SetPoolPriorityRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetPoolPriorityResponse:
        pool = await self._run(
            context,
            catalogue.set_pool_priority(self._uow(), pool_id=request.pool_id, priority=request.priority),
        )
        return pb.SetPoolPriorityResponse(pool_id=pool.pool_id, sku_id=pool.sku_id, priority=pool.priority)

    async def SetLowStockThreshold(
        self, request: pb.SetLowStockThresholdRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetLowStockThresholdResponse:
        sku = await self._run(
            context,
            catalogue.set_low_stock_threshold(
                self._uow(), sku_id=request.sku_id, threshold=request.low_stock_threshold
            ),
        )
        return pb.SetLowStockThresholdResponse(sku=_sku(sku))

    async def GetStockHistory(
        self, request: pb.GetStockHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStockHistoryResponse:
        days = await self._run(
            context,
            catalogue.stock_history(
                self._uow(), sku_id=request.sku_id, first=request.from_day, last=request.to_day
            ),
        )
        return pb.GetStockHistoryResponse(days=[
            pb.StockDay(
                day=d.day.isoformat(), available=d.available, imported=d.moves.imported,
                reserved=d.moves.reserved, released=d.moves.released, expired=d.moves.expired,
                voided=d.moves.voided, moved=d.moves.moved,
            )
            for d in days
        ])

    async def ImportKeys(
        self, request: pb.ImportKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ImportKeysResponse:
        async def run() -> import_keys.ImportResult:
            return await import_keys.import_file(
                self._uow, self._keyring, pool_id=request.pool_id, csv_data=request.csv,
                unit_cost=_money(request.unit_cost, "unit cost"), actor=request.actor,
                max_rows=self._import_max_rows,
            )

        result = await self._run(context, run())
        return pb.ImportKeysResponse(
            batch_id=result.batch_id,
            imported=result.imported,
            duplicates=result.duplicates,
            rejected=[
                pb.RejectedRow(row=r.row, reason=r.reason) for r in result.rejected[:MAX_REJECTED_LISTED]
            ],
        )

    async def RevealKeys(
        self, request: pb.RevealKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevealKeysResponse:
        async def run() -> list[reveal.RevealedKey]:
            [result] = await self._reveal(context, [request])
            if result.error is not None:
                raise result.error
            return result.keys

        keys = await self._run(context, run())
        return pb.RevealKeysResponse(keys=[_revealed(k) for k in keys])

    async def _reveal(
        self, context: grpc.aio.ServicerContext, requests: Sequence[pb.RevealKeysRequest]
    ) -> list[reveal.RevealResult]:
        """Reveals as the caller the transport authenticates (never the actor a request names)."""
        return await reveal.reveal_as_caller(
            self._uow, self._keyring,
            [reveal.RevealRequest(r.order_id, list(r.key_ids), r.actor, r.purpose) for r in requests],
            identity=peer_identity(context, self._tokens),
            policy=self._reveal_policy,
        )

    async def RevealOrdersKeys(
        self, request: pb.RevealOrdersKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevealOrdersKeysResponse:
        results = await self._reveal(context, request.orders)
        return pb.RevealOrdersKeysResponse(orders=[_order_keys(r) for r in results])

    async def FindKey(
        self, request: pb.FindKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.FindKeyResponse:
        found = await self._run(context, reveal.find_key(self._uow(), self._keyring, request.code))
        return pb.FindKeyResponse(key_id=found.key_id, order_id=found.order_id, sku_id=found.sku_id)

    async def ImportKeyFile(
        self,
        request_iterator: AsyncIterator[pb.ImportKeyFileRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.ImportKeyFileResponse]:
        """Receive the file to local disk (hashing it), then import it while reporting progress."""
        async for response in key_file_import.serve(
            self._uow, self._keyring, request_iterator, context, max_rows=self._import_max_rows
        ):
            yield response

    async def GetKeyFileImport(
        self, request: pb.GetKeyFileImportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetKeyFileImportResponse:
        job = await self._run(context, import_jobs.get_job(self._uow(), request.job_id))
        return pb.GetKeyFileImportResponse(job=key_file_import.job_to_proto(job))

    async def ListKeyFileImports(
        self, request: pb.ListKeyFileImportsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListKeyFileImportsResponse:
        jobs = await self._run(context, import_jobs.recent_jobs(self._uow(), request.limit))
        return pb.ListKeyFileImportsResponse(jobs=[key_file_import.job_to_proto(j) for j in jobs])

    async def RotateMasterKey(
        self, request: pb.RotateMasterKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateMasterKeyResponse:
        target = request.master_key_id.strip() or self._keyring.active_id
        try:
            count = await rotate.rotate_master_key(
                self._uow(), self._keyring, target, request.actor.strip() or "operator"
            )
        except KeyringError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return pb.RotateMasterKeyResponse(master_key_id=target, rewrapped=count)
