#!/bin/sh
# Writes PgBouncer's auth file from the environment, then runs PgBouncer in the foreground.
# POSIX sh: runs on the upstream (Alpine) image and on the offline (Debian) one.
# PGBOUNCER_USER is the application's role; the console's admin (bss_pgbouncer_admin, see
# pgbouncer.ini) is added only when PGBOUNCER_ADMIN_PASSWORD is set.
set -eu
: "${PGBOUNCER_USER:?PGBOUNCER_USER must name the application role (not postgres)}"
: "${PGBOUNCER_PASSWORD:?PGBOUNCER_PASSWORD must be set}"
umask 077
printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$PGBOUNCER_PASSWORD" > /tmp/pgbouncer-userlist.txt
if [ -n "${PGBOUNCER_ADMIN_PASSWORD:-}" ]; then
  printf '"%s" "%s"\n' bss_pgbouncer_admin "$PGBOUNCER_ADMIN_PASSWORD" >> /tmp/pgbouncer-userlist.txt
fi
exec pgbouncer "${PGBOUNCER_CONFIG:-/etc/bss/pgbouncer/pgbouncer.ini}"
