-- capyd schema v5, PostgreSQL dialect: operator controls (docs/server.md
-- "Operator controls"). Keep in step with ../sqlite/00005_user_disabled.sql.

-- +goose Up
-- Adding a nullable column without a default changes no row, but takes an
-- ACCESS EXCLUSIVE lock for a moment; give up rather than stall every
-- query queued behind a long transaction (the migration runs again at the
-- next start or `capyd migrate`).
SET LOCAL lock_timeout = '5s';

-- When an operator disabled the user (`capyd admin disable-user`); NULL
-- while the user may sign in. A disabled user gets no session: the store
-- refuses the login and every session of the user was deleted with the
-- change.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
