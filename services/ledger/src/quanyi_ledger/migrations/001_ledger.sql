-- The journal: append-only, double-entry, hash-chained. The source of truth for finance and audit (I3).
-- seq is assigned by the poster under an advisory lock, so the journal is one total order without gaps.
CREATE TABLE journal_entries (
    seq             bigint      PRIMARY KEY CHECK (seq >= 1),
    entry_id        uuid        NOT NULL UNIQUE,
    -- A fact posts at most once, even if the inbox were to let an event through twice.
    source_event_id uuid        NOT NULL UNIQUE,
    kind            text        NOT NULL CHECK (kind <> ''),
    memo            text        NOT NULL DEFAULT '',
    correlation_id  text        NOT NULL DEFAULT '',
    occurred_at     timestamptz NOT NULL,
    posted_at       timestamptz NOT NULL DEFAULT now(),
    prev_hash       text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash            text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX journal_entries_correlation ON journal_entries (correlation_id);

CREATE TABLE journal_lines (
    entry_seq    bigint NOT NULL REFERENCES journal_entries (seq),
    line_no      int    NOT NULL CHECK (line_no >= 1),
    account      text   NOT NULL CHECK (account <> ''),
    debit_minor  bigint NOT NULL DEFAULT 0 CHECK (debit_minor >= 0),
    credit_minor bigint NOT NULL DEFAULT 0 CHECK (credit_minor >= 0),
    currency     text   NOT NULL CHECK (currency <> ''),
    PRIMARY KEY (entry_seq, line_no),
    CONSTRAINT journal_lines_one_side CHECK ((debit_minor > 0) <> (credit_minor > 0))
);
CREATE INDEX journal_lines_account ON journal_lines (account, currency);

-- Append-only: any UPDATE, DELETE or TRUNCATE of the journal is refused, even one touching no rows.
-- Statement-level triggers fire however many rows match.
CREATE FUNCTION journal_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % on % is refused', TG_OP, TG_TABLE_NAME;
END
$$;

CREATE TRIGGER journal_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();
CREATE TRIGGER journal_lines_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();

-- A new entry must extend the chain: the next seq after the last one, pointing at the last one's hash.
CREATE FUNCTION journal_check_link() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    last_seq  bigint := 0;
    last_hash text   := repeat('0', 64);
BEGIN
    SELECT e.seq, e.hash INTO last_seq, last_hash FROM journal_entries e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := repeat('0', 64);
    END IF;
    IF NEW.seq <> last_seq + 1 OR NEW.prev_hash <> last_hash THEN
        RAISE EXCEPTION 'journal entry % does not extend the chain, which ends at entry %', NEW.seq, last_seq;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER journal_entries_link
    BEFORE INSERT ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_check_link();

-- Every entry balances per currency and has at least two lines, checked at commit, when all its lines
-- are in: for each new entry, and for each new line (a line added later to an old entry unbalances it).
CREATE FUNCTION journal_check_balanced() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    s     bigint;
    n     bigint;
    unbal text;
BEGIN
    IF TG_TABLE_NAME = 'journal_entries' THEN
        s := NEW.seq;
    ELSE
        s := NEW.entry_seq;
    END IF;
    SELECT count(*) INTO n FROM journal_lines WHERE entry_seq = s;
    IF n < 2 THEN
        RAISE EXCEPTION 'journal entry % has % line(s); an entry needs at least 2', s, n;
    END IF;
    SELECT currency INTO unbal FROM journal_lines WHERE entry_seq = s
        GROUP BY currency HAVING sum(debit_minor) <> sum(credit_minor) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %', s, unbal;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER journal_entries_balanced
    AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_check_balanced();
CREATE CONSTRAINT TRIGGER journal_lines_balanced
    AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_check_balanced();

-- Read model: totals per account and currency, updated in the posting transaction. A projection, so it
-- may be updated and rebuilt from the journal at any time (I6).
CREATE TABLE balances (
    account      text   NOT NULL,
    currency     text   NOT NULL,
    debit_total  bigint NOT NULL DEFAULT 0,
    credit_total bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account, currency)
);

-- Replaces the read model with the journal's sums; returns the number of balances.
CREATE FUNCTION rebuild_balances() RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM balances;
    INSERT INTO balances (account, currency, debit_total, credit_total)
    SELECT account, currency, sum(debit_minor), sum(credit_minor)
    FROM journal_lines
    GROUP BY account, currency;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
