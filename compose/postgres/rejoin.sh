#!/usr/bin/env bash
# Turns a failed primary into a standby of the promoted server, keeping its data directory:
# pg_rewind (possible because wal_log_hints = on) discards what it wrote after the fork, then
# standby.signal + primary_conninfo make it follow the new primary. Run by start.sh, with
# PostgreSQL stopped cleanly, when /var/lib/postgresql/rejoin-as-standby-of names the new primary.
set -euo pipefail
NEW_PRIMARY="${1:?usage: rejoin.sh <new-primary-host>}"
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (pg_rewind reads the new primary as its superuser)}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
echo "rejoin: pg_rewind from $NEW_PRIMARY"
PGPASSWORD="$POSTGRES_PASSWORD" pg_rewind --target-pgdata="$PGDATA" \
  --source-server="host=$NEW_PRIMARY port=5432 user=${POSTGRES_USER:-postgres} dbname=postgres connect_timeout=5"
touch "$PGDATA/standby.signal"
umask 077
cat >> "$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$NEW_PRIMARY port=5432 user=$REPLICATION_USER password=$REPLICATION_PASSWORD'
CONF
echo "rejoin: following $NEW_PRIMARY as a standby"
