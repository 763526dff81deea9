-- Operators have roles (issue 11): owner, operations, finance, support and read-only, beside the buyer and
-- the owner the environment configures ('admin', QUANYI_ADMIN_EMAIL). What each role may do is the
-- gateway's code (application/roles.py); the table only refuses a role nobody knows.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('buyer', 'admin', 'owner', 'operations', 'finance', 'support', 'read-only'));
