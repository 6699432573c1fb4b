#!/bin/sh
# Writes PgBouncer's auth file from the environment, then runs PgBouncer in the foreground.
# POSIX sh: runs on the upstream (Alpine) image and on the offline (Debian) one.
set -eu
: "${PGBOUNCER_USER:=postgres}"
: "${PGBOUNCER_PASSWORD:?PGBOUNCER_PASSWORD must be set}"
umask 077
printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$PGBOUNCER_PASSWORD" > /tmp/pgbouncer-userlist.txt
exec pgbouncer "${PGBOUNCER_CONFIG:-/etc/bss/pgbouncer/pgbouncer.ini}"
