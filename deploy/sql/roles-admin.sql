-- callsync's roles, part 1 of 2: what needs an administrator. Run it once per cluster and
-- database (again after adding a database), as a role with CREATEROLE that may grant on the
-- database and its public schema (a superuser, or the database owner with CREATEROLE):
--
--   psql "$ADMIN_DATABASE_URL" -X -v ON_ERROR_STOP=1 -f deploy/sql/roles-admin.sql
--
-- Then, after `callsync migrate up`, the table owner runs deploy/sql/roles.sql (part 2: the
-- grants on tables, views and columns).
--
-- It creates, when missing, two NOLOGIN roles that people and tools are made members of:
--   callsync_reader      BI dashboards: no phone number, name, transcript text, recording URL,
--                        raw payload or queue internals (see roles.sql for the exact columns)
--   callsync_pii_reader  every table and view, for the people allowed to see personal data
-- and lets them connect to this database and use its public schema. It also works on a
-- hardened database where PUBLIC has no rights. It stops with an error (never a warning and
-- exit 0) when a grant did not take effect.
--
-- Optional variables (psql -v NAME=VALUE):
--   reader      the BI role (default callsync_reader)
--   pii_reader  the personal-data role (default callsync_pii_reader)
--   worker      an existing login role that runs the worker without owning the tables: it
--               gets CONNECT and TEMPORARY (batch writes stage rows in temporary tables)

\set ON_ERROR_STOP 1
\if :{?reader}
\else
\set reader callsync_reader
\endif
\if :{?pii_reader}
\else
\set pii_reader callsync_pii_reader
\endif
\if :{?worker}
\else
\set worker ''
\endif

SELECT set_config('callsync.reader', :'reader', false), set_config('callsync.pii_reader', :'pii_reader', false),
       set_config('callsync.worker', :'worker', false) \gset cs_

DO $$
DECLARE
    r    text;
    db   text := current_database();
    roles text[] := ARRAY[current_setting('callsync.reader'), current_setting('callsync.pii_reader')];
    worker text := current_setting('callsync.worker');
BEGIN
    IF NOT (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'roles-admin.sql: % has no CREATEROLE: run it as an administrator', current_user;
    END IF;
    FOREACH r IN ARRAY roles LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', db, r);
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', r);
        IF NOT has_database_privilege(r, db, 'CONNECT') OR NOT has_schema_privilege(r, 'public', 'USAGE') THEN
            RAISE EXCEPTION 'roles-admin.sql: % may not grant on database % or schema public: run it as its owner or a superuser', current_user, db;
        END IF;
    END LOOP;
    IF worker <> '' THEN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = worker) THEN
            RAISE EXCEPTION 'roles-admin.sql: worker role % does not exist: create it first (CREATE ROLE % LOGIN PASSWORD ...)', worker, worker;
        END IF;
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', db, worker);
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', worker);
        IF NOT has_database_privilege(worker, db, 'TEMPORARY') OR NOT has_schema_privilege(worker, 'public', 'USAGE') THEN
            RAISE EXCEPTION 'roles-admin.sql: % may not grant on database % or schema public: run it as its owner or a superuser', current_user, db;
        END IF;
    END IF;
END
$$;
