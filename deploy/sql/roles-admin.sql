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
-- The reader roles get no persistent write of any kind: the script takes CREATE on the database
-- and on every schema away from them and from PUBLIC (PostgreSQL 15's default for schema public;
-- older databases grant it), and EXECUTE on the functions that create or change large objects or
-- write WAL messages (lo_*, loread, lowrite, pg_logical_emit_message) away from PUBLIC: callsync
-- uses none of them. Only a superuser may revoke those functions from PUBLIC; run by another
-- role, the script stops and says so, unless -v large_objects=keep (a managed service that gives
-- nobody superuser: readers can then create large objects, see deploy/docs/security.md). It also
-- stops when a reader role has an attribute or a predefined role that writes (SUPERUSER,
-- CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS, pg_write_all_data, pg_write_server_files,
-- pg_execute_server_program).
--
-- Optional variables (psql -v NAME=VALUE):
--   reader      the BI role (default callsync_reader)
--   pii_reader  the personal-data role (default callsync_pii_reader)
--   worker      an existing login role that runs the worker without owning the tables: it
--               gets CONNECT and TEMPORARY (batch writes stage rows in temporary tables)
--   large_objects  keep: leave EXECUTE on the large-object functions to PUBLIC (see above)

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
\if :{?large_objects}
\else
\set large_objects revoke
\endif

SELECT set_config('callsync.reader', :'reader', false), set_config('callsync.pii_reader', :'pii_reader', false),
       set_config('callsync.worker', :'worker', false),
       set_config('callsync.large_objects', :'large_objects', false) \gset cs_

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

-- No persistent write for the reader roles (see the top of this file).
DO $$
DECLARE
    r     text;
    s     record;
    f     regprocedure;
    names text;
    db    text := current_database();
    roles text[] := ARRAY[current_setting('callsync.reader'), current_setting('callsync.pii_reader')];
    keep_lo boolean := current_setting('callsync.large_objects') = 'keep';
    table_owner text := (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('public.calls'));
BEGIN
    IF current_setting('callsync.large_objects') NOT IN ('keep', 'revoke') THEN
        RAISE EXCEPTION 'roles-admin.sql: -v large_objects=%: want keep or revoke', current_setting('callsync.large_objects');
    END IF;
    -- Schemas and objects: CREATE is the owners' alone. The owner of callsync's tables keeps
    -- CREATE on schema public by a grant of its own, as the README's setup gives it.
    EXECUTE format('REVOKE CREATE ON DATABASE %I FROM PUBLIC', db);
    FOR s IN SELECT nspname FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast%' AND nspname <> 'pg_catalog'
                   AND nspname <> 'information_schema'
    LOOP
        IF s.nspname = 'public' AND table_owner IS NOT NULL THEN
            EXECUTE format('GRANT CREATE ON SCHEMA public TO %I', table_owner);
        END IF;
        EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', s.nspname);
        FOREACH r IN ARRAY roles LOOP
            EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM %I', s.nspname, r);
        END LOOP;
    END LOOP;
    -- Large objects and WAL messages: callsync uses neither.
    IF NOT keep_lo THEN
        FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                 WHERE p.pronamespace = 'pg_catalog'::regnamespace
                       AND (p.proname ~ '^lo_' OR p.proname IN ('loread', 'lowrite', 'pg_logical_emit_message'))
        LOOP
            BEGIN
                EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
            EXCEPTION WHEN insufficient_privilege THEN
                NULL; -- not a superuser: the check below says so
            END;
        END LOOP;
    END IF;
    FOREACH r IN ARRAY roles LOOP
        EXECUTE format('REVOKE CREATE ON DATABASE %I FROM %I', db, r);
        IF has_database_privilege(r, db, 'CREATE') THEN
            RAISE EXCEPTION 'roles-admin.sql: % may still create schemas in database %: revoke CREATE from the role it has it through', r, db;
        END IF;
        SELECT string_agg(nspname, ', ') INTO names FROM pg_namespace
        WHERE  nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%' AND has_schema_privilege(r, oid, 'CREATE');
        IF names IS NOT NULL THEN
            RAISE EXCEPTION 'roles-admin.sql: % may still create objects in schema(s) %: revoke CREATE from the role it has it through', r, names;
        END IF;
        IF NOT keep_lo AND EXISTS (SELECT FROM pg_proc p
                                   WHERE p.pronamespace = 'pg_catalog'::regnamespace
                                         AND (p.proname ~ '^lo_' OR p.proname IN ('loread', 'lowrite', 'pg_logical_emit_message'))
                                         AND has_function_privilege(r, p.oid, 'EXECUTE')) THEN
            RAISE EXCEPTION 'roles-admin.sql: % may still create large objects: only a superuser can revoke EXECUTE on lo_create and the other large-object functions from PUBLIC; run it as one, or accept it with -v large_objects=keep', r;
        END IF;
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = r
                   AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls)) THEN
            RAISE EXCEPTION 'roles-admin.sql: role % has SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS: a reader must have none (ALTER ROLE % NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS)', r, r;
        END IF;
        SELECT string_agg(rolname, ', ') INTO names FROM pg_roles
        WHERE  rolname IN ('pg_write_all_data', 'pg_write_server_files', 'pg_execute_server_program')
               AND pg_has_role(r, oid, 'USAGE');
        IF names IS NOT NULL THEN
            RAISE EXCEPTION 'roles-admin.sql: role % is a member of %, which write: a reader must not be', r, names;
        END IF;
    END LOOP;
END
$$;
