-- capyd schema, PostgreSQL dialect. Keep in step with ../sqlite/00001_init.sql
-- (same version numbers, same tables and columns; see docs/storage.md).
-- Times are timestamptz (UTC, microseconds).

-- +goose Up

CREATE TABLE users (
    id         text PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

-- One pending code per e-mail; code_hash = HMAC-SHA256(pepper, email, code).
CREATE TABLE login_codes (
    email      text PRIMARY KEY,
    code_hash  bytea NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- token_hash = SHA-256(session token); the token is never stored.
CREATE TABLE sessions (
    id           text PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE,
    user_id      text NOT NULL REFERENCES users (id),
    label        text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE orgs (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    key_check  text NOT NULL,
    created_by text NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL
);

-- Never deleted: a kick sets status = 'revoked'.
CREATE TABLE memberships (
    org_id     text NOT NULL REFERENCES orgs (id),
    user_id    text NOT NULL REFERENCES users (id),
    role       text NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    status     text NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    revoked_at timestamptz,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE invites (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES orgs (id),
    email       text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('member', 'device')),
    role        text NOT NULL CHECK (role IN ('', 'member', 'admin', 'owner')),
    created_by  text NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    redeemed_at timestamptz,
    consumed_at timestamptz,
    revoked_at  timestamptz,
    blob        bytea NOT NULL
);
CREATE INDEX invites_org_email ON invites (org_id, email);
CREATE INDEX invites_org_created_by ON invites (org_id, created_by);

CREATE TABLE projects (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES orgs (id),
    name       text NOT NULL,
    created_by text NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    UNIQUE (org_id, name)
);

-- head_version = 0 and head_id = '' while nothing was pushed.
CREATE TABLE environments (
    id           text PRIMARY KEY,
    project_id   text NOT NULL REFERENCES projects (id),
    org_id       text NOT NULL REFERENCES orgs (id),
    name         text NOT NULL,
    epoch        bigint NOT NULL CHECK (epoch >= 1),
    signing_key  bytea NOT NULL,
    head_version bigint NOT NULL DEFAULT 0,
    head_id      text NOT NULL DEFAULT '',
    created_by   text NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (project_id, name)
);

-- Blob history, kept.
CREATE TABLE env_versions (
    env_id    text NOT NULL REFERENCES environments (id),
    version   bigint NOT NULL CHECK (version >= 1),
    epoch     bigint NOT NULL,
    id        text NOT NULL,
    parent_id text NOT NULL,
    blob      bytea NOT NULL,
    pushed_by text NOT NULL REFERENCES users (id),
    pushed_at timestamptz NOT NULL,
    PRIMARY KEY (env_id, version)
);

-- verifier = SHA-256(deploy auth key).
CREATE TABLE deploys (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES orgs (id),
    project_id text NOT NULL REFERENCES projects (id),
    env_id     text NOT NULL REFERENCES environments (id),
    name       text NOT NULL,
    epoch      bigint NOT NULL,
    verifier   bytea NOT NULL,
    blob       bytea NOT NULL,
    minted_by  text NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX deploys_env_id ON deploys (env_id);
CREATE INDEX deploys_org_minted_by ON deploys (org_id, minted_by);

-- One row per org: the newest link of its chain, locked for update by
-- every append.
CREATE TABLE audit_heads (
    org_id text PRIMARY KEY REFERENCES orgs (id),
    seq    bigint NOT NULL,
    hash   text NOT NULL
);

-- Append-only (trigger below). at is the exact text that was hashed.
CREATE TABLE audit_events (
    org_id    text NOT NULL REFERENCES orgs (id),
    seq       bigint NOT NULL CHECK (seq >= 1),
    at        text NOT NULL,
    actor     text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL,
    result    text NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    PRIMARY KEY (org_id, seq)
);

CREATE TABLE rate_limits (
    key          text PRIMARY KEY,
    window_end   timestamptz NOT NULL,
    count        bigint NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION capy_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'capy: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION capy_refuse_change();

CREATE TRIGGER memberships_never_deleted
    BEFORE DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION capy_refuse_change();
