#!/usr/bin/env bash
# Installs the servers the adapter test suites start themselves: etcd (Debian etcd-server), PostgreSQL
# (Debian postgresql; the suite runs initdb itself, so the cluster the package creates is not used), a Java >= 17
# JDK (DynamoDB Local runs on it; the mongo-java-server launcher is compiled with javac) with Maven, and
# mongo-java-server's jars from Maven Central. Idempotent: does nothing when all are already present.
set -euo pipefail

# Major version of `java` on PATH, or 0 if there is none (java prints its version on stderr).
java_major() {
  command -v java >/dev/null 2>&1 || { echo 0; return; }
  java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n1 | grep . || echo 0
}

pkgs=()
command -v etcd >/dev/null 2>&1 || pkgs+=(etcd-server)
{ [ "$(java_major)" -ge 17 ] && command -v javac >/dev/null 2>&1; } || pkgs+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
# PostgreSQL's server binaries live under /usr/lib/postgresql/<version>/bin, not on PATH.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || pkgs+=(postgresql)

if [ "${#pkgs[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # A mirror hiccup should not fail CI: retry `apt-get update` a few times, then try the install even
  # if it never succeeded (the cached lists may be good enough).
  for try in 1 2 3; do
    $sudo apt-get update -qq && break
    echo "install-test-servers: apt-get update failed (try $try)" >&2
    [ "$try" -eq 3 ] || sleep $((try * 5))
  done
  # Slim Debian images lack this directory and the JRE's postinst fails without it.
  $sudo mkdir -p /usr/share/man/man1
  for try in 1 2 3; do
    # Lock timeout: wait for another apt/dpkg (e.g. unattended-upgrades) instead of failing at once.
    $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 "${pkgs[@]}" && break
    [ "$try" -lt 3 ] || { echo "install-test-servers: could not install ${pkgs[*]}" >&2; exit 1; }
    echo "install-test-servers: apt-get install failed (try $try), retrying" >&2
    sleep $((try * 5))
    $sudo apt-get update -qq || true
  done
fi

# mongo-java-server 1.47.0 (memory and H2 backends) into ~/.cache/tidemark, and its small launcher.
bash "$(dirname "${BASH_SOURCE[0]}")/../tools/test-servers/scripts/install-mongo-java-server.sh"

# The suites start their own etcd / DynamoDB Local / mongo-java-server / PostgreSQL on free ports; nothing is started here.
command -v etcd >/dev/null 2>&1 || { echo "install-test-servers: etcd is still not on PATH" >&2; exit 1; }
[ "$(java_major)" -ge 17 ] || { echo "install-test-servers: java on PATH is not 17+ (update-alternatives?)" >&2; exit 1; }
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || { echo "install-test-servers: no /usr/lib/postgresql/*/bin/postgres after installing postgresql" >&2; exit 1; }
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
echo "install-test-servers: etcd $(etcd --version | sed -n 's/^etcd Version: //p'), java $(java_major), $("$pg_bin/postgres" --version)"
