-- The chart of accounts posts revenue, refunds, stock and cost per SKU, and entries carry the outside
-- reference they are matched by (a payment's provider transaction id, an import batch, a refund, a
-- reconciliation mismatch). Both are covered by the entry's hash when not empty (domain/chain.py), so the
-- entries posted before keep their hashes. Adding a column with a constant default rewrites no row: the
-- append-only triggers (UPDATE, DELETE, TRUNCATE) do not fire and have nothing to refuse.
ALTER TABLE journal_lines ADD COLUMN sku_id text NOT NULL DEFAULT '';
ALTER TABLE journal_entries ADD COLUMN reference text NOT NULL DEFAULT '';

-- Balances as of an instant and reports over a period read entries by the time of their fact; refunds
-- find the order's earlier entries by correlation (indexed since 001); reconciliation finds payments by
-- their provider transaction id.
CREATE INDEX journal_entries_occurred_at ON journal_entries (occurred_at);
CREATE INDEX journal_entries_reference ON journal_entries (reference) WHERE reference <> '';

-- Append-only, whoever connects: the journal belongs to the role that runs the migrations, and a service's
-- own role is granted no more than SELECT and INSERT on it. A role that does not own a table can neither
-- drop nor disable its triggers, nor alter or drop the table; and no role is given UPDATE, DELETE,
-- TRUNCATE or TRIGGER on it through PUBLIC. The statement-level triggers of 001 still refuse UPDATE, DELETE
-- and TRUNCATE for the owner too (only a superuser or the owner could take them away, and verification
-- then names the first entry changed).
REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON journal_entries, journal_lines FROM PUBLIC;
REVOKE ALL ON FUNCTION journal_refuse_change() FROM PUBLIC;
