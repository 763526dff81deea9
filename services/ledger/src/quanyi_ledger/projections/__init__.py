"""The ledger's projections: every table it serves reads from, written only from its events.

`EventStore.append` runs them inline in the posting transaction; `quanyi replay ledger` runs the same
objects over the whole store or topic into a shadow schema. The journal (journal_entries, journal_lines)
is not among them: it is the ledger's record, appended in the same transaction as the events.
"""

from __future__ import annotations

from quanyi_platform.projection import Projection

from quanyi_ledger.projections.balances import BalancesProjection
from quanyi_ledger.projections.reconciliation import (
    ChainHeadsProjection,
    MismatchesProjection,
    StatementsProjection,
)

PROJECTIONS: tuple[Projection, ...] = (
    BalancesProjection(),
    StatementsProjection(),
    MismatchesProjection(),
    ChainHeadsProjection(),
)

__all__ = [
    "PROJECTIONS",
    "BalancesProjection",
    "ChainHeadsProjection",
    "MismatchesProjection",
    "StatementsProjection",
]
