#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on 127.0.0.1 at their default ports.
# Starts them when installed and stopped; installs them from Debian packages when absent and we
# are root; otherwise says what is missing and exits non-zero.
set -uo pipefail

PG_PORT="${PGPORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"

log() { printf '[ensure-services] %s\n' "$*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
  if ! is_root; then
    log "cannot install $* without root: install it (Debian: apt-get install $*) or start it yourself"
    return 1
  fi
  log "installing $* from Debian packages"
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null && APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then log "$name is ready"; return 0; fi
    sleep 0.5
  done
  log "$name did not become ready"
  return 1
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_ready; then log "PostgreSQL is running on 127.0.0.1:$PG_PORT"; return 0; fi
  local fresh=""
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql || return 1
    fresh=1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start || true
  fi
  wait_for PostgreSQL pg_ready || return 1
  if [ -n "$fresh" ] && is_root; then
    # A fresh Debian cluster accepts TCP logins by password only: give the postgres role the
    # password of the default DATABASE_URL (postgres/postgres) for local development.
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  fi
}

redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  if command -v redis-cli >/dev/null && redis_ready; then log "Redis is running on 127.0.0.1:$REDIS_PORT"; return 0; fi
  if ! command -v redis-server >/dev/null; then apt_install redis-server || return 1; fi
  log "starting Redis"
  mkdir -p /tmp/redis-ctd
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /tmp/redis-ctd --logfile /tmp/redis-ctd/redis.log >/dev/null
  wait_for Redis redis_ready
}

status=0
ensure_postgres || status=1
ensure_redis || status=1
exit $status
