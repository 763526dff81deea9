-- The ledger, event-sourced. The journal stays the ledger's record (append-only, hash-chained): every posting
-- batch appends its entries and lines to it and, in the same transaction, one EntriesPosted event per batch to
-- the event store; `balances` becomes a projection of those events (quanyi_ledger.projections), rebuilt by
-- `quanyi replay ledger` instead of rebuild_balances().
--
-- The journal's checks now run once per statement over the whole inserted set (transition tables) instead
-- of once per row with a query each. A posting inserts an entry and its lines in one statement (the entries
-- in a data-modifying WITH, the lines in the main INSERT): at the end of that statement each new entry must
-- extend the chain, have at least two lines and balance in every currency. An entry inserted without its
-- lines, or lines added to an entry that already has some, are refused.

DROP TRIGGER journal_entries_link ON journal_entries;
DROP TRIGGER journal_entries_balanced ON journal_entries;
DROP TRIGGER journal_lines_balanced ON journal_lines;
DROP FUNCTION journal_check_link();
DROP FUNCTION journal_check_balanced();
DROP FUNCTION rebuild_balances();

-- Checked per statement by journal_check_new_lines (every line's entry exists) instead of a lookup per row.
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_entry_seq_fkey;

-- New entries extend the chain: consecutive seqs from the entry that ended it before the statement, each
-- pointing at its predecessor's hash; and each has at least two lines, which came in the same statement.
CREATE FUNCTION journal_check_new_entries() RETURNS trigger
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
    SELECT r.seq, count(l.entry_seq) INTO bad, n
        FROM new_rows r LEFT JOIN journal_lines l ON l.entry_seq = r.seq
        GROUP BY r.seq HAVING count(l.entry_seq) < 2 ORDER BY r.seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % has % line(s); an entry needs at least 2', bad, n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER journal_entries_extend_chain
    AFTER INSERT ON journal_entries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION journal_check_new_entries();

-- New lines belong to existing entries, arrive with all the other lines of their entry (none is added to
-- an entry later), and each entry's lines number at least two and balance in every currency.
CREATE FUNCTION journal_check_new_lines() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    bad      bigint;
    n        bigint;
    currency text;
BEGIN
    SELECT l.entry_seq INTO bad
        FROM new_rows l WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.seq = l.entry_seq)
        ORDER BY l.entry_seq LIMIT 1;
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

CREATE TRIGGER journal_lines_balanced
    AFTER INSERT ON journal_lines
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION journal_check_new_lines();

-- Posters serialise on a transaction-scoped advisory lock (one extends the chain at a time; the key is the
-- ledger's own, the platform's migration lock is 7_104_201). This takes it and then reads where the chain
-- ends and which of `sources` it has posted, in one round trip: each statement of a VOLATILE function
-- takes a fresh snapshot, so the reads see whatever the previous lock holder committed.
CREATE FUNCTION journal_lock_head(sources uuid[], OUT seq bigint, OUT hash text, OUT posted text[])
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7104254);
    SELECT e.seq, e.hash INTO seq, hash FROM journal_entries e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        seq := 0;
        hash := repeat('0', 64);
    END IF;
    posted := ARRAY(
        SELECT e.source_event_id::text FROM journal_entries e WHERE e.source_event_id = ANY(sources)
    );
END
$$;

-- The balances are rebuilt from the events: entries posted before this migration are announced by one
-- EntriesPosted at the next start (quanyi_ledger.application.upgrade), whose projection re-adds them.
DELETE FROM balances;
