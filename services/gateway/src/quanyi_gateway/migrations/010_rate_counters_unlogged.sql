-- The abuse limits' counters write no WAL (issue 6, speed). Every limited request upserts its buckets in
-- autocommit, and the busiest bucket (one client address, one window) is one row: a logged upsert holds that
-- row's lock until its commit record is flushed to disk, so every checkout from one address waited for the
-- previous one's flush (~9.7 ms of lock waiting per order, and ~4x the backend CPU per hit, in make bench).
-- A transaction that wrote only unlogged tables commits without waiting for a flush. The counters stay in
-- Postgres, shared by every gateway replica; a crash (or a failover: unlogged tables are not replicated)
-- empties them, which only forgives the requests of the windows in progress.
ALTER TABLE rate_counters SET UNLOGGED;
