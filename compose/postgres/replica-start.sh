#!/usr/bin/env bash
# Starts a hot standby: on first start, clone the primary with pg_basebackup -R, which writes
# standby.signal and primary_conninfo (the PostgreSQL >= 12 way; `standby_mode` no longer exists).
# Runs as the postgres OS user, with the same image as the primary.
set -euo pipefail
: "${PRIMARY_HOST:?PRIMARY_HOST must be set}"
: "${REPLICA_SLOT:?REPLICA_SLOT must be set (replica1_slot or replica2_slot)}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"
: "${PGDATA:=/var/lib/postgresql/data}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
WAIT_SECONDS="${PRIMARY_WAIT_SECONDS:-120}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "replica-start: waiting up to ${WAIT_SECONDS}s for the primary at $PRIMARY_HOST:5432"
  deadline=$(( $(date +%s) + WAIT_SECONDS ))
  until pg_isready -q -h "$PRIMARY_HOST" -p 5432; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "replica-start: primary $PRIMARY_HOST:5432 not ready after ${WAIT_SECONDS}s" >&2
      exit 1
    fi
    sleep 0.5
  done
  find "$PGDATA" -mindepth 1 -delete 2>/dev/null || true
  echo "replica-start: pg_basebackup from $PRIMARY_HOST using slot $REPLICA_SLOT"
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
    --host="$PRIMARY_HOST" --username="$REPLICATION_USER" --pgdata="$PGDATA" \
    --wal-method=stream --slot="$REPLICA_SLOT" --write-recovery-conf --checkpoint=fast --no-password
  chmod 0700 "$PGDATA"
fi
exec postgres "$@"
