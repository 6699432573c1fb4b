#!/bin/sh
# The health check of a Prometheus or Alertmanager behind basic auth (start.sh): logs in with the
# password start.sh wrote, so no password is on the check's command line (docker inspect shows it).
# Usage: healthcheck.sh prometheus|alertmanager <port> [<route prefix>, e.g. /alertmanager]
set -eu
dir=/tmp/bss-web
case "$1" in
  prometheus) exec promtool query instant "http://bss-ops:$(cat "$dir/password")@127.0.0.1:$2${3:-}" up >/dev/null ;;
  alertmanager) exec amtool --alertmanager.url="http://127.0.0.1:$2${3:-}" --http.config.file="$dir/client.yml" config show >/dev/null ;;
  *) echo "healthcheck.sh: unknown program '$1' (prometheus or alertmanager)" >&2; exit 64 ;;
esac
