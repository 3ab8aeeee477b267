-- capyd schema v6, PostgreSQL dialect: the org's policy (docs/api.md §4.1,
-- PUT /v1/orgs/{org}/policy). Keep in step with ../sqlite/00006_org_policy.sql.

-- +goose Up
-- A column with a constant default changes no row on PostgreSQL 11 and
-- later, but takes an ACCESS EXCLUSIVE lock for a moment; give up rather
-- than stall every query queued behind a long transaction (the migration
-- runs again at the next start or `capyd migrate`).
SET LOCAL lock_timeout = '5s';

-- The offline grace an org admin allowed, in whole seconds: 0 (the
-- default) is off, at most 7 days. The co-decrypt answer carries it to
-- the member's machine (docs/decisions.md #88).
ALTER TABLE orgs ADD COLUMN offline_grace_seconds bigint NOT NULL DEFAULT 0
    CHECK (offline_grace_seconds BETWEEN 0 AND 604800);
