-- capyd schema v3, SQLite dialect. Keep in step with
-- ../postgres/00003_blob_storage.sql, which stops PostgreSQL from trying to
-- compress ciphertext. SQLite never compresses values: nothing to change,
-- but the version is kept so that a schema version means the same thing in
-- both dialects.

-- +goose Up
SELECT 1;
