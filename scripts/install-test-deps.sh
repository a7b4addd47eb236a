#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, and nothing
# more: a C compiler (go test -race and PKCS#11 need cgo), Debian's AWS CLI
# and OpenSSL (the tests drive and check trent with them), util-linux
# (taskset for the benchmarks, prlimit for the audit tests) and SoftHSM2
# (the PKCS#11 root key is tested against it), and PostgreSQL 15, which the
# tests of the postgres store start themselves (internal/store/postgres/pgtest)
# on loopback, as the unprivileged system user made below. Go itself must
# already be installed (see README.md). Safe to run again.
set -euo pipefail

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
[ -x /usr/bin/aws ] || need_apt+=(awscli)
[ -x /usr/bin/openssl ] || need_apt+=(openssl)
{ [ -x /usr/bin/taskset ] && [ -x /usr/bin/prlimit ]; } || need_apt+=(util-linux)
[ -x /usr/bin/softhsm2-util ] || need_apt+=(softhsm2)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)

if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing Debian packages: ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PostgreSQL refuses to run as root, and the tests run as root in CI: pgtest
# runs its throw-away servers as this user, which owns nothing else.
if ! getent passwd trent-pgtest >/dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "adding system user trent-pgtest"
  $sudo useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin trent-pgtest
fi

# Go modules are fetched by the go command itself; fetch them up front so a
# network problem shows here and not in the middle of a test.
go mod download
/usr/bin/aws --version
