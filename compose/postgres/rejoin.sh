#!/usr/bin/env bash
# Turns a failed primary into a standby of the promoted server, keeping its data directory:
# pg_rewind (possible because wal_log_hints = on) discards what it wrote after the fork, then
# standby.signal + primary_conninfo make it follow the new primary. Run by start.sh, with
# PostgreSQL stopped cleanly, when /var/lib/postgresql/rejoin-as-standby-of names the new primary.
set -euo pipefail
NEW_PRIMARY="${1:?usage: rejoin.sh <new-primary-host>}"
: "${PGDATA:=/var/lib/postgresql/data}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set (pg_rewind reads the new primary as the replication role)}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
# Its own slot on the new primary (pg_rewind copies the new primary's settings, whose
# primary_slot_name, if any, belongs to another standby).
REJOIN_SLOT="${REJOIN_SLOT:-rejoined_primary_slot}"
echo "rejoin: pg_rewind from $NEW_PRIMARY"
# The replication role, granted pg_rewind's functions (primary-init.sh): the superuser has no
# network login. The password travels in the environment, in no command line.
PGPASSWORD="$REPLICATION_PASSWORD" pg_rewind --target-pgdata="$PGDATA" \
  --source-server="host=$NEW_PRIMARY port=5432 user=$REPLICATION_USER dbname=postgres connect_timeout=5"
PGPASSWORD="$REPLICATION_PASSWORD" psql -XAtq -v ON_ERROR_STOP=1 --set slot="$REJOIN_SLOT" \
  "host=$NEW_PRIMARY port=5432 user=$REPLICATION_USER dbname=postgres connect_timeout=5" <<'SQL'
SELECT pg_create_physical_replication_slot(:'slot') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');
SQL
touch "$PGDATA/standby.signal"
umask 077
cat >> "$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$NEW_PRIMARY port=5432 user=$REPLICATION_USER password=$REPLICATION_PASSWORD'
primary_slot_name = '$REJOIN_SLOT'
CONF
echo "rejoin: following $NEW_PRIMARY as a standby"
