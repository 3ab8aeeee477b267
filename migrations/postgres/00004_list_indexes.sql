-- capyd schema v4, PostgreSQL dialect: an index behind the order of every
-- list the API pages (docs/storage.md "Paged lists"). Keep in step with
-- ../sqlite/00004_list_indexes.sql.
--
-- Each index starts with the list's scope (equality columns) and goes on
-- with its sort key and id, so that a page is one range read that stops
-- after the page. Indexes that are a prefix of a new one are dropped: the
-- new one serves their queries too.

-- +goose Up
-- CREATE INDEX blocks writes to its table while it builds and DROP INDEX
-- takes an ACCESS EXCLUSIVE lock; a wait behind a long transaction would
-- stall every query queued behind it, so give up instead (the migration
-- runs again at the next start or `capyd migrate`).
SET LOCAL lock_timeout = '5s';

-- GET /v1/auth/sessions: newest first.
CREATE INDEX sessions_user_created ON sessions (user_id, created_at, id);
DROP INDEX sessions_user_id;

-- GET …/members: by joined_at (created_at for rows from v1), then user id;
-- with a status filter (the default is active) and without.
CREATE INDEX memberships_org_status_joined ON memberships (org_id, status, (COALESCE(joined_at, created_at)), user_id);
CREATE INDEX memberships_org_joined ON memberships (org_id, (COALESCE(joined_at, created_at)), user_id);

-- GET …/invites: newest first; admins see all, members their own.
CREATE INDEX invites_org_created ON invites (org_id, created_at, id);
CREATE INDEX invites_org_creator_created ON invites (org_id, created_by, created_at, id);
DROP INDEX invites_org_created_by;

-- GET …/projects and …/envs: by created_at, then id.
CREATE INDEX projects_org_created ON projects (org_id, created_at, id);
CREATE INDEX environments_project_created ON environments (project_id, created_at, id);

-- GET …/deploys: newest first; all, one environment's, one minter's.
CREATE INDEX deploys_org_created ON deploys (org_id, created_at, id);
CREATE INDEX deploys_env_created ON deploys (env_id, created_at, id);
DROP INDEX deploys_env_id;
CREATE INDEX deploys_org_minter_created ON deploys (org_id, minted_by, created_at, id);
DROP INDEX deploys_org_minted_by;

-- GET …/versions pages the primary key (env_id, version) backwards; GET
-- /v1/orgs reads the caller's memberships (memberships_user_id); GET
-- …/audit pages the primary key (org_id, seq).
