-- Accounts of buyers and administrators. Passwords are scrypt hashes with a per-user salt.
CREATE TABLE users (
    user_id       uuid        PRIMARY KEY,
    email         text        NOT NULL UNIQUE CHECK (email = lower(email)),
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('buyer', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens, stored only as their SHA-256: a leaked table grants no access.
CREATE TABLE tokens (
    token_sha256 bytea       PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id      uuid        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);

-- Nonces of signed partner callbacks, kept for twice the allowed clock skew to refuse replays.
CREATE TABLE partner_nonces (
    partner text        NOT NULL,
    nonce   text        NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner, nonce)
);
CREATE INDEX partner_nonces_seen_at ON partner_nonces (seen_at);
