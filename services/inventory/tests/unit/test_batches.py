"""Operator tools' decisions on a batch: void, restore, move, the audit of an export with codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from quanyi_inventory.domain import batches
from quanyi_inventory.domain.batches import BatchState, BatchStateConflict
from quanyi_inventory.domain.errors import InvalidInput, NotFound
from quanyi_inventory.domain.events import BatchRestored, BatchVoided, KeysExported, KeysMoved

LIVE = BatchState("b1", "pool-a", "sku-a", voided=False, version=1, available=7, void=0)
BINNED = BatchState("b1", "pool-a", "sku-a", voided=True, version=2, available=0, void=7)


def test_voiding_takes_the_available_keys_and_is_the_batchs_next_version() -> None:
    recorded = batches.void(LIVE, " ops:amy ", " leaked ")
    assert (recorded.aggregate_type, recorded.aggregate_id, recorded.version) == ("KeyBatch", "b1", 2)
    assert recorded.event == BatchVoided("b1", "pool-a", "sku-a", 7, "ops:amy", "leaked")


def test_a_batch_in_the_bin_cannot_be_voided_or_moved_and_only_it_can_be_restored() -> None:
    with pytest.raises(BatchStateConflict):
        batches.void(BINNED, "ops", "")
    with pytest.raises(BatchStateConflict):
        batches.move(BINNED, "pool-b", "sku-a", "ops")
    with pytest.raises(BatchStateConflict):
        batches.restore(LIVE, "ops")
    restored = batches.restore(BINNED, "")
    assert restored.version == 3 and restored.event == BatchRestored("b1", "pool-a", "sku-a", 7, "operator")


def test_unknown_batches_and_pools_are_not_found() -> None:
    for decide in (lambda: batches.void(None, "o", ""), lambda: batches.restore(None, "o"),
                   lambda: batches.move(None, "p", "s", "o"), lambda: batches.move(LIVE, "p", None, "o")):
        with pytest.raises(NotFound):
            decide()


def test_a_move_names_both_pools_and_their_skus() -> None:
    recorded = batches.move(LIVE, "pool-c", "sku-c", "ops")
    assert recorded.version == 2
    assert recorded.event == KeysMoved("b1", "pool-a", "sku-a", "pool-c", "sku-c", 7, "ops")
    with pytest.raises(BatchStateConflict):
        batches.move(LIVE, "pool-a", "sku-a", "ops")
    with pytest.raises(BatchStateConflict):
        batches.move(BatchState("b1", "pool-a", "sku-a", False, 3, 0, 0), "pool-c", "sku-c", "ops")


def test_an_export_with_codes_needs_an_actor_and_filters_name_known_states() -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    recorded = batches.exported("x1", "ops", batch_id="b1", pool_id="p", state="void", expires_before=at, keys=3)
    assert recorded.event == KeysExported("x1", "ops", "b1", "p", "void", at, 3)
    with pytest.raises(InvalidInput):
        batches.exported("x2", " ", batch_id="", pool_id="", state="", expires_before=None, keys=0)
    batches.check_filter("expired")
    with pytest.raises(InvalidInput):
        batches.check_filter("sold")
