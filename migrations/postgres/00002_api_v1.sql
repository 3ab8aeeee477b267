-- capyd schema v2, PostgreSQL dialect: what docs/api.md needs beyond v1.
-- Keep in step with ../sqlite/00002_api_v1.sql.

-- +goose Up

-- Last activation of a membership (a re-invited member joins again).
-- NULL on rows from v1: readers use COALESCE(joined_at, created_at).
ALTER TABLE memberships ADD COLUMN joined_at timestamptz;

-- Why an invite or deploy token was revoked: 'manual', 'kick', 'rotate'.
ALTER TABLE invites ADD COLUMN revoked_reason text
    CHECK (revoked_reason IS NULL OR revoked_reason IN ('manual', 'kick'));
ALTER TABLE deploys ADD COLUMN revoked_reason text
    CHECK (revoked_reason IS NULL OR revoked_reason IN ('manual', 'kick', 'rotate'));
ALTER TABLE deploys ADD COLUMN last_used_at timestamptz;

-- When the environment last moved to a new epoch.
ALTER TABLE environments ADD COLUMN rotated_at timestamptz;

-- Denied audit rows are throttled per org, actor and action (docs/api.md
-- §1.9); this index answers "was one written in the last hour?".
CREATE INDEX audit_events_denied ON audit_events (org_id, actor, action, at) WHERE result = 'denied';
