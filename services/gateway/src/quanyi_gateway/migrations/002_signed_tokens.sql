-- Access tokens are now signed (JWT, HS256) and verified without the database; opaque bearer tokens are
-- no longer issued, and the ones issued before stop working (their holders sign in again).
DROP TABLE IF EXISTS tokens;

-- Access tokens withdrawn before their expiry (sign-out). Every replica keeps the unexpired ones in
-- memory and reloads those revoked since its last look; expired rows are deleted.
CREATE TABLE revoked_tokens (
    jti        uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_revoked_at ON revoked_tokens (revoked_at);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
