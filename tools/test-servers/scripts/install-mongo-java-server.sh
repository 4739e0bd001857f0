#!/usr/bin/env bash
# Downloads mongo-java-server 1.47.0 (memory and H2 backends, with their dependencies) from Maven Central
# into a cache directory and compiles tidemark's launcher against it. Needs Java 17+ (java, javac) and mvn.
# Idempotent: does nothing when the jars and the compiled launcher are already there.
#
#   MONGO_JAVA_SERVER_HOME  where to put it (default: ~/.cache/tidemark/mongo-java-server-1.47.0)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${MONGO_JAVA_SERVER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/tidemark/mongo-java-server-1.47.0}"
source_file="$here/mongo/TidemarkMongoServer.java"

for tool in java javac mvn; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "install-mongo-java-server: '$tool' not found; on Debian: apt-get install -y openjdk-17-jdk-headless maven" >&2
    exit 1
  }
done

if ! ls "$home"/lib/mongo-java-server-core-1.47.0.jar >/dev/null 2>&1; then
  mkdir -p "$home"
  # Into a temporary directory first, so an interrupted download never looks complete.
  tmp="$(mktemp -d "$home/.lib-XXXXXX")"
  mvn -q -B -Dstyle.color=never -f "$here/mongo/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp" >&2
  rm -rf "$home/lib"
  mv "$tmp" "$home/lib"
fi

# Recompile when the launcher source changed (its hash names the class directory).
digest="$(sha256sum "$source_file" | cut -c1-16)"
classes="$home/classes-$digest"
if [ ! -f "$classes/TidemarkMongoServer.class" ]; then
  tmp="$(mktemp -d "$home/.classes-XXXXXX")"
  javac -nowarn -d "$tmp" -cp "$home/lib/*" "$source_file"
  rm -rf "$classes"
  mv "$tmp" "$classes"
fi

echo "$home/lib/*:$classes"
