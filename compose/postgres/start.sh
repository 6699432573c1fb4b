#!/usr/bin/env bash
# Container entry for every PostgreSQL server of the topology: the health agent beside
# PostgreSQL, then the role's start path. ROLE=primary uses the image's own entrypoint
# (initdb + /docker-entrypoint-initdb.d); ROLE=replica clones the primary.
set -euo pipefail
perl /etc/bss/postgres/health-agent.pl &
# A failed primary told to rejoin (the file names the promoted server) comes back as its standby.
REJOIN_REQUEST=/var/lib/postgresql/rejoin-as-standby-of
if [ "${ROLE:-primary}" = primary ] && [ -s "$REJOIN_REQUEST" ]; then
  bash /etc/bss/postgres/rejoin.sh "$(cat "$REJOIN_REQUEST")"
  rm -f "$REJOIN_REQUEST"
fi
case "${ROLE:-primary}" in
  primary) exec docker-entrypoint.sh postgres "$@" ;;
  replica) exec bash /etc/bss/postgres/replica-start.sh "$@" ;;
  *) echo "start.sh: ROLE must be primary or replica, not '${ROLE}'" >&2; exit 2 ;;
esac
