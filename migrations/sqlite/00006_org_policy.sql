-- capyd schema v6, SQLite dialect: the org's policy (docs/api.md §4.1,
-- PUT /v1/orgs/{org}/policy). Keep in step with ../postgres/00006_org_policy.sql.

-- +goose Up

-- The offline grace an org admin allowed, in whole seconds: 0 (the
-- default) is off, at most 7 days. The co-decrypt answer carries it to
-- the member's machine (docs/decisions.md #88).
ALTER TABLE orgs ADD COLUMN offline_grace_seconds INTEGER NOT NULL DEFAULT 0
    CHECK (offline_grace_seconds BETWEEN 0 AND 604800);
