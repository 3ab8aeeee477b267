-- capyd schema v7, PostgreSQL dialect: one-time shares to a browser
-- (docs/storage.md "shares"). Keep in step with ../sqlite/00007_shares.sql.

-- +goose Up

-- A share request (kind request: a recipient's page registered its
-- public key; a member answers it with a sealed blob) or a link share
-- (kind link: the data key is only in the link's fragment). The service
-- keeps only the page's public key, the sealed blob (the wrapped data key
-- and the ciphertext; protocol.md "Shares") and their times. On the last
-- allowed view or at expiry both are set to NULL and the row stays as a
-- tombstone (gone_at, gone_reason) so that the page can say "already
-- opened"; the sweeper deletes tombstones a week later.
CREATE TABLE shares (
    id          text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('request', 'link')),
    public_key  bytea,
    org_id      text REFERENCES orgs (id),
    created_by  text REFERENCES users (id),
    blob        bytea,
    views_left  integer NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    filled_at   timestamptz,
    gone_at     timestamptz,
    gone_reason text CHECK (gone_reason IN ('opened', 'expired'))
);
-- Ciphertext and keys do not compress (as 00003 does for the others).
ALTER TABLE shares ALTER COLUMN blob SET STORAGE EXTERNAL;
ALTER TABLE shares ALTER COLUMN public_key SET STORAGE EXTERNAL;
CREATE INDEX shares_expires ON shares (expires_at);
