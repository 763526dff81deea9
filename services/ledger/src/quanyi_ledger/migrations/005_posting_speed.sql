-- Posting speed. The same rules, checked for a fraction of the cost.
--
-- 001's CHECK (hash ~ '^[0-9a-f]{64}$') on hash and prev_hash cost about 24 µs of the server's CPU per value
-- (Postgres's regex engine expands the bounded repetition {64} into a large automaton), half of the whole
-- posting's server time. The same condition, "64 lower-case hexadecimal digits", as a length and a
-- one-character class costs under 1 µs. Replacing a CHECK rewrites no row (it only reads the journal to
-- validate it), so the append-only triggers have nothing to refuse.
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_prev_hash_check;
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_hash_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_prev_hash_check
    CHECK (length(prev_hash) = 64 AND prev_hash !~ '[^0-9a-f]');
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_hash_check
    CHECK (length(hash) = 64 AND hash !~ '[^0-9a-f]');

-- An EntriesPosted envelope holds up to 500 entries (~200 kB): lz4 compresses it for the event store in a
-- fraction of pglz's time. Changes how new values are stored, not the rows already there. A server built
-- without lz4 (the embedded Postgres of `make bench` and of machines with no Postgres) keeps pglz.
DO $lz4$
BEGIN
    ALTER TABLE events ALTER COLUMN envelope SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4: the event store keeps pglz';
END
$lz4$;

-- The statement-level checks of 002 joined the statement's new rows (a transition table, of which the planner
-- knows nothing) with the whole journal: "every new line's entry exists" became a hash anti-join over a
-- sequential scan of journal_entries, and "every new entry has two lines" could become one over
-- journal_lines, so each batch cost more the longer the journal grew (6 ms a batch at 20,000 entries, about
-- 300 ms at 1,000,000). The same checks, now as a correlated lookup per new entry through the primary keys:
-- the cost of a batch depends on the batch only.
CREATE OR REPLACE FUNCTION journal_check_new_entries() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    first_seq bigint;
    head_seq  bigint;
    head_hash text;
    bad       bigint;
    n         bigint;
BEGIN
    SELECT min(r.seq) INTO first_seq FROM new_rows r;
    IF first_seq IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT e.seq, e.hash INTO head_seq, head_hash
        FROM journal_entries e WHERE e.seq < first_seq ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    SELECT r.seq INTO bad
        FROM new_rows r LEFT JOIN new_rows p ON p.seq = r.seq - 1
        WHERE NOT (r.seq = head_seq + 1 AND r.prev_hash = head_hash)
          AND (p.seq IS NULL OR r.prev_hash <> p.hash)
        ORDER BY r.seq LIMIT 1;
    IF FOUND THEN
        SELECT coalesce(max(r.seq), head_seq) INTO n FROM new_rows r WHERE r.seq < bad;
        RAISE EXCEPTION 'journal entry % does not extend the chain, which ends at entry %', bad, n;
    END IF;
    SELECT r.seq, c.n INTO bad, n
        FROM new_rows r,
             LATERAL (SELECT count(*) AS n FROM journal_lines l WHERE l.entry_seq = r.seq) AS c
        WHERE c.n < 2 ORDER BY r.seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % has % line(s); an entry needs at least 2', bad, n;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION journal_check_new_lines() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    bad      bigint;
    n        bigint;
    currency text;
BEGIN
    -- A scalar subquery is never turned into a join: one primary-key lookup per new entry.
    SELECT s.entry_seq INTO bad
        FROM (SELECT DISTINCT l.entry_seq FROM new_rows l) AS s
        WHERE (SELECT e.seq FROM journal_entries e WHERE e.seq = s.entry_seq) IS NULL
        ORDER BY s.entry_seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal lines name entry %, which does not exist', bad;
    END IF;
    SELECT s.entry_seq INTO bad
        FROM (SELECT l.entry_seq, count(*) AS n FROM new_rows l GROUP BY l.entry_seq) AS s
        WHERE s.n <> (SELECT count(*) FROM journal_lines j WHERE j.entry_seq = s.entry_seq)
        ORDER BY s.entry_seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % has its lines already; none can be added', bad;
    END IF;
    SELECT l.entry_seq, count(*) INTO bad, n
        FROM new_rows l GROUP BY l.entry_seq HAVING count(*) < 2 ORDER BY l.entry_seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % has % line(s); an entry needs at least 2', bad, n;
    END IF;
    SELECT l.entry_seq, l.currency INTO bad, currency
        FROM new_rows l GROUP BY l.entry_seq, l.currency
        HAVING sum(l.debit_minor) <> sum(l.credit_minor) ORDER BY 1, 2 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %', bad, currency;
    END IF;
    RETURN NULL;
END
$$;
