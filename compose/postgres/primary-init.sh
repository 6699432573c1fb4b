#!/usr/bin/env bash
# Runs once, from /docker-entrypoint-initdb.d, when the primary's data directory is created.
# The replication role's password comes from the environment: nothing secret lives in the repo.
set -euo pipefail
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set (generated per run by the harness)}"
: "${REPLICATION_ALLOWED_CIDR:?REPLICATION_ALLOWED_CIDR must name the topology network, e.g. 172.20.0.0/16}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
: "${APP_PASSWORD:?APP_PASSWORD must be set (password of the application role, generated per run by the harness)}"
APP_USER="${APP_USER:-bss_app}"
: "${MONITOR_PASSWORD:?MONITOR_PASSWORD must be set (password of the pg_monitor role the exporter uses, generated per run by the harness)}"
MONITOR_USER="${MONITOR_USER:-bss_monitor}"
SUPERUSER="${POSTGRES_USER:-postgres}"

# Passwords reach psql through its environment (\getenv, psql 15), never its command line.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  --set user="$REPLICATION_USER" <<'SQL'
\getenv password REPLICATION_PASSWORD
CREATE ROLE :"user" WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('replica1_slot');
SELECT pg_create_physical_replication_slot('replica2_slot');
-- A failed primary rejoins with pg_rewind reading the new primary as this role, not as the
-- superuser (which the network never reaches): the functions pg_rewind's documentation lists.
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO :"user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO :"user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO :"user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO :"user";
SQL

# The exporter's role: reads the statistics views and settings (pg_monitor), no table data.
psql -v ON_ERROR_STOP=1 --username "$SUPERUSER" --dbname postgres --set user="$MONITOR_USER" <<'SQL'
\getenv password MONITOR_PASSWORD
CREATE ROLE :"user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password' IN ROLE pg_monitor;
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
# The superuser only over the local socket (docker exec): no TCP connection — direct, through
# HAProxy, PgBouncer or Envoy — logs in as it, whatever password it brings. First line: pg_hba
# takes the first rule that matches, and the image's own end with `host all all all`.
{ printf 'host all %s all reject\n' "$SUPERUSER"; cat "$PGDATA/pg_hba.conf"; } > "$PGDATA/pg_hba.conf.new"
mv "$PGDATA/pg_hba.conf.new" "$PGDATA/pg_hba.conf"
