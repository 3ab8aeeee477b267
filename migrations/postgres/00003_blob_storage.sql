-- capyd schema v3, PostgreSQL dialect: ciphertext columns are stored
-- without compression. Keep in step with ../sqlite/00003_blob_storage.sql.
--
-- A blob is signed JSON around base64 ciphertext, which pglz cannot shrink
-- by the 25 % it requires; PostgreSQL still tried on every write of a blob
-- over 2 kB (a 160 kB head: ~4.6 ms of compression thrown away, against
-- ~0.9 ms to store it as it is; BENCHMARKS.md). EXTERNAL keeps large values
-- out of line, uncompressed. Only rows written from now on are affected;
-- older rows stay as they are and read the same.

-- +goose Up
-- SET STORAGE only changes the catalogue, but takes an ACCESS EXCLUSIVE
-- lock on each table; a wait behind a long transaction would stall every
-- query queued behind it, so give up instead (the migration runs again at
-- the next start or `capyd migrate`).
SET LOCAL lock_timeout = '5s';
ALTER TABLE env_versions ALTER COLUMN blob SET STORAGE EXTERNAL;
ALTER TABLE deploys ALTER COLUMN blob SET STORAGE EXTERNAL;
ALTER TABLE invites ALTER COLUMN blob SET STORAGE EXTERNAL;
