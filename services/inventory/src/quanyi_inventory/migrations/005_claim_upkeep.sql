-- Issue 7 (allocation speed): upkeep of the tables every claim writes.
--
-- A claimed key leaves its entry in the partial indexes of available keys (keys_available_fifo,
-- keys_available_fefo) until VACUUM removes it, and those entries sit exactly where the next claim's scan
-- starts: each batch's scan walks every key claimed since the last vacuum (~0.2 µs an entry: 11 ms for a
-- batch of 200 after 50,000 claims). With the default threshold (20% of the table: 200,000 claims on a
-- 1,000,000-key pool) that walk costs a claim ~100 µs on average. A vacuum of a 1,000,000-key table after
-- 60,000 changes took 0.4 s of CPU (~7 µs a claim), so vacuuming every 50,000 changes bounds the walk to
-- ~25 µs a claim on average, whatever the pool's size.
ALTER TABLE keys SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 50000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 50000
);

-- The batch's decided orders are looked up here by primary key; fresh statistics keep every other
-- reader's plans (a generic plan made while the table was small) from scanning it whole.
ALTER TABLE allocations SET (
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 20000
);
