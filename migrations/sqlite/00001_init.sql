-- capyd schema, SQLite dialect. Keep in step with ../postgres/00001_init.sql
-- (same version numbers, same tables and columns; see docs/storage.md).
-- Times are TEXT in the fixed-width UTC form 2006-01-02T15:04:05.000000Z,
-- so they compare correctly as strings. Tables are STRICT.

-- +goose Up

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

-- One pending code per e-mail; code_hash = HMAC-SHA256(pepper, email, code).
CREATE TABLE login_codes (
    email      TEXT PRIMARY KEY,
    code_hash  BLOB NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

-- token_hash = SHA-256(session token); the token is never stored.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id),
    label        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_check  TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
) STRICT;

-- Never deleted: a kick sets status = 'revoked'.
CREATE TABLE memberships (
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    role       TEXT NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    status     TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revoked_at TEXT,
    PRIMARY KEY (org_id, user_id)
) STRICT;
CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE invites (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    email       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('member', 'device')),
    role        TEXT NOT NULL CHECK (role IN ('', 'member', 'admin', 'owner')),
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    redeemed_at TEXT,
    consumed_at TEXT,
    revoked_at  TEXT,
    blob        BLOB NOT NULL
) STRICT;
CREATE INDEX invites_org_email ON invites (org_id, email);
CREATE INDEX invites_org_created_by ON invites (org_id, created_by);

CREATE TABLE projects (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    name       TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    UNIQUE (org_id, name)
) STRICT;

-- head_version = 0 and head_id = '' while nothing was pushed.
CREATE TABLE environments (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id),
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    name         TEXT NOT NULL,
    epoch        INTEGER NOT NULL CHECK (epoch >= 1),
    signing_key  BLOB NOT NULL,
    head_version INTEGER NOT NULL DEFAULT 0,
    head_id      TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (project_id, name)
) STRICT;

-- Blob history, kept.
CREATE TABLE env_versions (
    env_id    TEXT NOT NULL REFERENCES environments (id),
    version   INTEGER NOT NULL CHECK (version >= 1),
    epoch     INTEGER NOT NULL,
    id        TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    blob      BLOB NOT NULL,
    pushed_by TEXT NOT NULL REFERENCES users (id),
    pushed_at TEXT NOT NULL,
    PRIMARY KEY (env_id, version)
) STRICT;

-- verifier = SHA-256(deploy auth key).
CREATE TABLE deploys (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    project_id TEXT NOT NULL REFERENCES projects (id),
    env_id     TEXT NOT NULL REFERENCES environments (id),
    name       TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    verifier   BLOB NOT NULL,
    blob       BLOB NOT NULL,
    minted_by  TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
) STRICT;
CREATE INDEX deploys_env_id ON deploys (env_id);
CREATE INDEX deploys_org_minted_by ON deploys (org_id, minted_by);

-- One row per org: the newest link of its chain, updated by every append
-- (appends are serialised by BEGIN IMMEDIATE).
CREATE TABLE audit_heads (
    org_id TEXT PRIMARY KEY REFERENCES orgs (id),
    seq    INTEGER NOT NULL,
    hash   TEXT NOT NULL
) STRICT;

-- Append-only (triggers below). at is the exact text that was hashed.
CREATE TABLE audit_events (
    org_id    TEXT NOT NULL REFERENCES orgs (id),
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    result    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
) STRICT;

CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_end   TEXT NOT NULL,
    count        INTEGER NOT NULL
) STRICT;

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'capy: UPDATE on audit_events is not allowed');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'capy: DELETE on audit_events is not allowed');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER memberships_never_deleted BEFORE DELETE ON memberships
BEGIN
    SELECT RAISE(ABORT, 'capy: DELETE on memberships is not allowed');
END;
-- +goose StatementEnd
