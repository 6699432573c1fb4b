#!/usr/bin/env bash
# Runs once, from /docker-entrypoint-initdb.d, when the primary's data directory is created.
# The replication role's password comes from the environment: nothing secret lives in the repo.
set -euo pipefail
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set (generated per run by the harness)}"
: "${REPLICATION_ALLOWED_CIDR:?REPLICATION_ALLOWED_CIDR must name the topology network, e.g. 172.20.0.0/16}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  --set user="$REPLICATION_USER" --set password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE :"user" WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('replica1_slot');
SELECT pg_create_physical_replication_slot('replica2_slot');
SQL

echo "include '/etc/bss/postgres/replication.conf'" >> "$PGDATA/postgresql.conf"
# Replication connections only for the replication role, only from the topology's network.
echo "host replication $REPLICATION_USER $REPLICATION_ALLOWED_CIDR scram-sha-256" >> "$PGDATA/pg_hba.conf"
