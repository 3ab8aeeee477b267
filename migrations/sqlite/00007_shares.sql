-- capyd schema v7, SQLite dialect: one-time shares to a browser
-- (docs/storage.md "shares"). Keep in step with ../postgres/00007_shares.sql.

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
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('request', 'link')),
    public_key  BLOB,
    org_id      TEXT REFERENCES orgs (id),
    created_by  TEXT REFERENCES users (id),
    blob        BLOB,
    views_left  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    filled_at   TEXT,
    gone_at     TEXT,
    gone_reason TEXT CHECK (gone_reason IN ('opened', 'expired'))
) STRICT;
CREATE INDEX shares_expires ON shares (expires_at);
