#!/bin/sh
# First start of the compose PostgreSQL (docker-entrypoint-initdb.d, as the superuser, on an
# empty volume only): the callsync role, which owns the tables and runs the worker; the reader
# roles of deploy/sql/roles-admin.sql; and the grafana login, a member of callsync_reader. The
# grants on tables (deploy/sql/roles.sql) need the tables: compose's grants service runs it as
# callsync once callsync has created them.
set -eu

psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v callsync_password="$CALLSYNC_DB_PASSWORD" <<'SQL'
CREATE ROLE callsync LOGIN PASSWORD :'callsync_password';
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO callsync;
GRANT USAGE, CREATE ON SCHEMA public TO callsync;
SQL

psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-f "${ROLES_ADMIN_SQL:-/callsync/roles-admin.sql}"

psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v grafana_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana LOGIN PASSWORD :'grafana_password' IN ROLE callsync_reader;
SQL
