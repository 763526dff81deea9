-- Buyers' erasure (issue 10, PIPL art. 47): the account row and the rows keyed by its address are deleted;
-- this record says only which buyer id was erased, when and at whose request ("self" or an admin's id), so
-- that contact look-ups answer "erased" and the buyer's orders, keys and journal stay under the id.
CREATE TABLE erasures (
    buyer_id     uuid        PRIMARY KEY,
    erased_at    timestamptz NOT NULL,
    requested_by text        NOT NULL
);
