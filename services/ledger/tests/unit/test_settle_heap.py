import gc

from quanyi_ledger.bootstrap import GC_THRESHOLD, settle_heap


def test_the_started_service_freezes_its_heap_and_widens_the_collectors_first_generation() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_threshold() == GC_THRESHOLD
        assert GC_THRESHOLD[0] > before[0]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
