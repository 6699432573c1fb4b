#!/usr/bin/env bash
# Runs once, from /docker-entrypoint-initdb.d, when the primary's data directory is created.
# The replication role's password comes from the environment: nothing secret lives in the repo.
set -euo pipefail
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set (generated per run by the harness)}"
: "${REPLICATION_ALLOWED_CIDR:?REPLICATION_ALLOWED_CIDR must name the topology network, e.g. 172.20.0.0/16}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
: "${APP_PASSWORD:?APP_PASSWORD must be set (password of the application role, generated per run by the harness)}"
APP_USER="${APP_USER:-bss_app}"

# Passwords reach psql through its environment (\getenv, psql 15), never its command line.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  --set user="$REPLICATION_USER" <<'SQL'
\getenv password REPLICATION_PASSWORD
CREATE ROLE :"user" WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('replica1_slot');
SELECT pg_create_physical_replication_slot('replica2_slot');
SQL

# The application's role: reads and writes rows, nothing else (no DDL, no superuser, no
# replication). Tables the owner creates later in public are readable and writable by it.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  --set user="$APP_USER" --set db="${POSTGRES_DB:-postgres}" <<'SQL'
\getenv password APP_PASSWORD
CREATE ROLE :"user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"user";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"user";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"user";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"user";
SQL

echo "include '/etc/bss/postgres/replication.conf'" >> "$PGDATA/postgresql.conf"
# Replication connections only for the replication role, only from the topology's network.
echo "host replication $REPLICATION_USER $REPLICATION_ALLOWED_CIDR scram-sha-256" >> "$PGDATA/pg_hba.conf"
