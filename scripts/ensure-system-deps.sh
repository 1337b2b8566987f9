#!/usr/bin/env bash
# Install the OS packages the test suite needs when they are missing: the PostgreSQL server
# (tests start their own on 127.0.0.1), headless Chromium (docs and health-report tests) and a
# Java runtime (Spark).
# Needs root or passwordless sudo; prints what it does.
set -euo pipefail

need=()
bindir=$(pg_config --bindir 2>/dev/null || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
fi
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Spark (WAREHOUSE=spark, the Spark tests) runs on Java 17 or later.
java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || need+=(openjdk-17-jre-headless)

[ ${#need[@]} -eq 0 ] && exit 0
echo "Installing OS packages: ${need[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package starts a cluster on port 5432; the tests do not use it.
if [[ " ${need[*]} " == *" postgresql "* ]]; then
  $sudo service postgresql stop >/dev/null 2>&1 || true
fi
