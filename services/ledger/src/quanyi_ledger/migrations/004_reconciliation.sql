-- Reconciliation and signed chain heads: projections of the ledger's StatementReconciled,
-- ReconciliationMismatch, MismatchResolved and ChainHeadSigned events (quanyi_ledger.projections), rebuilt
-- by `quanyi replay ledger`. Times come from the events, ids from the payloads.
CREATE TABLE reconciliation_statements (
    statement_id         uuid        PRIMARY KEY,
    provider             text        NOT NULL,
    bill_date            date        NOT NULL,
    file_sha256          text        NOT NULL,
    matched              bigint      NOT NULL,
    missing_in_ledger    bigint      NOT NULL,
    missing_in_statement bigint      NOT NULL,
    amount_mismatches    bigint      NOT NULL,
    fee_minor            bigint      NOT NULL,
    payment_minor        bigint      NOT NULL,
    refund_minor         bigint      NOT NULL,
    currency             text        NOT NULL,
    actor                text        NOT NULL,
    reconciled_at        timestamptz NOT NULL
);

-- The operations list: a mismatch is open while resolved_at is NULL.
CREATE TABLE reconciliation_mismatches (
    mismatch_id      uuid        PRIMARY KEY,
    statement_id     uuid        NOT NULL,
    provider         text        NOT NULL,
    kind             smallint    NOT NULL,
    txn_kind         text        NOT NULL,
    txn_key          text        NOT NULL,
    order_id         text        NOT NULL,
    ledger_minor     bigint      NOT NULL,
    statement_minor  bigint      NOT NULL,
    currency         text        NOT NULL,
    detail           text        NOT NULL,
    found_at         timestamptz NOT NULL,
    resolved_by      text        NOT NULL DEFAULT '',
    resolved_at      timestamptz,
    note             text        NOT NULL DEFAULT '',
    adjustment_minor bigint      NOT NULL DEFAULT 0
);
CREATE INDEX reconciliation_mismatches_open ON reconciliation_mismatches (found_at) WHERE resolved_at IS NULL;

CREATE TABLE chain_heads (
    head_id    uuid        PRIMARY KEY,
    seq        bigint      NOT NULL,
    hash       text        NOT NULL,
    signed_at  timestamptz NOT NULL,
    public_key text        NOT NULL,
    signature  text        NOT NULL,
    actor      text        NOT NULL
);
