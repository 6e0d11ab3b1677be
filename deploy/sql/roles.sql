-- Least-privilege roles for the callsync warehouse.
--
--   1. callsync_reader: read-only access for BI tools and analysts (SELECT on every table and view,
--      including the ones later migrations add).
--   2. The worker's role: the minimum grants for `callsync run` and `callsync once`.
--
-- Run it with psql on the warehouse database, as the role that owns callsync's tables (the one
-- that applied the migrations) or as a superuser, after `callsync migrate up`:
--
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/sql/roles.sql
--
-- Optional variables (psql -v NAME=VALUE):
--   reader  the read-only role to create or update (default callsync_reader)
--   owner   the role that owns callsync's tables and applies its migrations (default: you)
--   worker  an existing role to give the worker's read-write grants of section 2b (default: none)
--
-- It only adds grants, and can be run again at any time, e.g. after an upgrade.

\if :{?reader}
\else
\set reader callsync_reader
\endif
\if :{?owner}
\else
SELECT current_user AS owner \gset
\endif

-- 1. The reader. NOLOGIN: nobody logs in as callsync_reader; people and tools log in as
--    themselves and are members of it, so access is granted and revoked per person:
--
--      CREATE ROLE grafana LOGIN PASSWORD 'change-me' IN ROLE callsync_reader;
--      GRANT callsync_reader TO alice;
--      REVOKE callsync_reader FROM alice;

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') AS reader_missing \gset
\if :reader_missing
CREATE ROLE :"reader" NOLOGIN;
\endif
GRANT CONNECT ON DATABASE :"DBNAME" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";  -- views included
-- Tables and views that future migrations create (they are created by the owner).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";

-- 2. The worker.
--
-- 2a. By default `callsync run` and `callsync once` apply pending migrations at start, so the
--     worker's role is the owner. It needs to connect, to use temporary tables (batch writes
--     stage rows in them) and to create tables in the schema; no superuser, CREATEDB or
--     CREATEROLE. As a superuser, with your database's name:
--
--       CREATE ROLE callsync LOGIN PASSWORD 'change-me';
--       GRANT CONNECT, TEMPORARY ON DATABASE warehouse TO callsync;
--       GRANT USAGE, CREATE ON SCHEMA public TO callsync;  -- PostgreSQL 15+ no longer lets everyone create in public
--
-- 2b. Tighter: the owner applies migrations on its own (`callsync migrate up` from a Kubernetes
--     Job or init container, or by hand before an upgrade), and the worker runs as a role that
--     only reads and writes rows. `run` and `once` still check the migrations at start, which
--     needs no more than this as long as none is pending. Create that role first, then run this
--     script with -v worker=NAME:
--
--       CREATE ROLE callsync_worker LOGIN PASSWORD 'change-me';

\if :{?worker}
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO :"worker";
GRANT USAGE ON SCHEMA public TO :"worker";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"worker";
-- The migration history is the owner's to change.
REVOKE INSERT, UPDATE, DELETE ON goose_db_version FROM :"worker";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"worker";
\endif
