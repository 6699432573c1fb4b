#!/usr/bin/env bash
# Container entry for every PostgreSQL server of the topology: the health agent beside
# PostgreSQL, then the role's start path. ROLE=primary uses the image's own entrypoint
# (initdb + /docker-entrypoint-initdb.d); ROLE=replica clones the primary.
set -euo pipefail
perl /etc/bss/postgres/health-agent.pl &
case "${ROLE:-primary}" in
  primary) exec docker-entrypoint.sh postgres "$@" ;;
  replica) exec bash /etc/bss/postgres/replica-start.sh "$@" ;;
  *) echo "start.sh: ROLE must be primary or replica, not '${ROLE}'" >&2; exit 2 ;;
esac
