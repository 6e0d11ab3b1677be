#!/bin/sh
# First start of the compose PostgreSQL (docker-entrypoint-initdb.d, as the superuser, on an
# empty volume only): the callsync role, which owns the tables and runs the worker, and the
# grafana login, a member of the read-only callsync_reader role of deploy/sql/roles.sql.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v callsync_password="$CALLSYNC_DB_PASSWORD" <<'SQL'
CREATE ROLE callsync LOGIN PASSWORD :'callsync_password';
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO callsync;
GRANT USAGE, CREATE ON SCHEMA public TO callsync;
SQL

# The tables do not exist yet: the default privileges give the reader the ones callsync creates.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v owner=callsync -f "${ROLES_SQL:-/callsync/roles.sql}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v grafana_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana LOGIN PASSWORD :'grafana_password' IN ROLE callsync_reader;
SQL
