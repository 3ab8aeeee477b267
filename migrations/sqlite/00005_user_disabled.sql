-- capyd schema v5, SQLite dialect: operator controls (docs/server.md
-- "Operator controls"). Keep in step with ../postgres/00005_user_disabled.sql.

-- +goose Up

-- When an operator disabled the user (`capyd admin disable-user`); NULL
-- while the user may sign in. A disabled user gets no session: the store
-- refuses the login and every session of the user was deleted with the
-- change.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
