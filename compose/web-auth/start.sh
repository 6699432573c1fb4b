#!/bin/sh
# Runs Prometheus or Alertmanager with every HTTP endpoint behind basic auth: writes the web config
# (user bss-ops, the bcrypt hash from OPS_WEB_PASSWORD_BCRYPT) and the operator's password for the
# program's own clients (Prometheus' self-scrape and its alert delivery, the health check), then
# runs the command given with --web.config.file added.
# Usage: start.sh <program> [flags...]. POSIX sh: runs on the upstream (busybox) images and on the
# offline (Debian) ones.
set -eu
: "${OPS_WEB_PASSWORD:?OPS_WEB_PASSWORD must be set: the operator password for Prometheus and Alertmanager}"
: "${OPS_WEB_PASSWORD_BCRYPT:?OPS_WEB_PASSWORD_BCRYPT must be set: the bcrypt hash of OPS_WEB_PASSWORD, e.g. htpasswd -nbBC 10 "" "\$OPS_WEB_PASSWORD" | tr -d ':\n'}"
# The health check passes the password in a URL (promtool query has no header option before 2.44).
case "$OPS_WEB_PASSWORD" in
  *[!A-Za-z0-9._~-]*)
    printf '%s\n' "OPS_WEB_PASSWORD may hold only letters, digits and . _ ~ - (choose another, e.g. openssl rand -base64 18 | tr '+/' '-_' | tr -d =)" >&2
    exit 64
    ;;
esac
case "$OPS_WEB_PASSWORD_BCRYPT" in
  '$2'[aby]'$'*) ;;
  *)
    printf '%s\n' "OPS_WEB_PASSWORD_BCRYPT is not a bcrypt hash (\$2a\$/\$2b\$/\$2y\$…): generate it from OPS_WEB_PASSWORD with htpasswd -nbBC 10 \"\" \"\$OPS_WEB_PASSWORD\" | tr -d ':\\n'" >&2
    exit 64
    ;;
esac
dir=/tmp/bss-web
umask 077
mkdir -p "$dir"
printf '%s' "$OPS_WEB_PASSWORD" > "$dir/password"
printf 'basic_auth_users:\n  bss-ops: %s\n' "'$OPS_WEB_PASSWORD_BCRYPT'" > "$dir/web.yml"
printf 'basic_auth:\n  username: bss-ops\n  password_file: %s/password\n' "$dir" > "$dir/client.yml"
exec "$@" --web.config.file="$dir/web.yml"
