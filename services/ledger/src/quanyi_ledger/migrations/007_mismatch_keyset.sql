-- Keyset paging of the reconciliation mismatches (ListMismatches, quanyi_platform.paging), resolved ones
-- included: the list's ORDER BY with the mismatch id breaking ties between equal times.
CREATE INDEX reconciliation_mismatches_keyset ON reconciliation_mismatches (found_at, mismatch_id);
