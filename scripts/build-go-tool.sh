#!/usr/bin/env bash
# Builds one of the two Go tools only the deployment suite needs, into .cache/bin, from the Go
# module proxy; does nothing when the pinned version is there. Run by scripts/prerequisites.sh
# --all (CI), and on first use by the suite that needs it (so a quick certification never waits
# for them):
#   actionlint  v1.7.12 — suites/deployment/workflows.test.ts lints the CI workflows
#   compose-v2  v2.40.3 — `up --wait` for the compose deployment test and the startup benchmark,
#               where no `docker compose` plugin is installed
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[build-go-tool] %s\n' "$*"; }
die() { printf '[build-go-tool] ERROR: %s\n' "$*" >&2; exit 1; }
ACTIONLINT_VERSION=v1.7.12
COMPOSE_V2_VERSION=v2.40.3
command -v go >/dev/null || die "'go' not found: install Go (Debian: golang-go), or point BSS_ACTIONLINT / BSS_COMPOSE_V2 at a binary"
mkdir -p .cache/bin
start=$(date +%s)
case "${1:-}" in
  actionlint)
    if [ -x .cache/bin/actionlint ] && .cache/bin/actionlint -version 2>/dev/null | grep -qx "v\?${ACTIONLINT_VERSION#v}"; then
      log "actionlint: ${ACTIONLINT_VERSION} at .cache/bin"
      exit 0
    fi
    log "actionlint: building ${ACTIONLINT_VERSION} from the Go module proxy into .cache/bin"
    GOBIN="$PWD/.cache/bin" CGO_ENABLED=0 go install "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
    ;;
  compose-v2)
    out="$PWD/.cache/bin/docker-compose-v2"
    if [ -x "$out" ] && "$out" version --short 2>/dev/null | grep -qx "${COMPOSE_V2_VERSION#v}"; then
      log "compose v2: ${COMPOSE_V2_VERSION} at .cache/bin/docker-compose-v2"
      exit 0
    fi
    # `go install github.com/docker/compose/v2/cmd@<version>` is refused ("go.mod ... contains one or
    # more exclude directives"), so the module is fetched from the proxy and built as the main module.
    log "compose v2: building ${COMPOSE_V2_VERSION} from the Go module proxy into .cache/bin (a few minutes the first time)"
    src="$(GOFLAGS=-mod=mod go mod download -json "github.com/docker/compose/v2@${COMPOSE_V2_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
    [ -n "$src" ] || die "go mod download of github.com/docker/compose/v2@${COMPOSE_V2_VERSION} failed"
    work="$(mktemp -d)"
    cp -r "$src/." "$work" && chmod -R u+w "$work"
    (cd "$work" && GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=${COMPOSE_V2_VERSION}" -o "$out" ./cmd)
    rm -rf "$work"
    ;;
  *) die "usage: scripts/build-go-tool.sh actionlint|compose-v2" ;;
esac
log "${1}: built in $(( $(date +%s) - start )) s"
