#!/usr/bin/env bash
# Debian packages the portability suite needs, installed only when missing: a Java runtime for
# Spark (17 or newer) and a PostgreSQL server (15 or newer). Run by `make engines`; as root it
# runs apt-get itself, otherwise through sudo. Idempotent: with both present it changes nothing.
set -euo pipefail

java_major() {
    # `openjdk version "17.0.15"` (or "1.8.0_x" for Java 8) → 17 (or 1).
    java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1
}

postgres_major() {
    local newest
    newest=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed 's|/usr/lib/postgresql/\([0-9]*\)/.*|\1|' | sort -n | tail -n 1)
    echo "${newest:-0}"
}

packages=()
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
    packages+=(java)
fi
if [ "$(postgres_major)" -lt 15 ]; then
    packages+=(postgresql)
fi
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
"${sudo[@]}" apt-get update -qq
names=()
for package in "${packages[@]}"; do
    if [ "$package" = java ]; then
        # Java 17 where Debian still ships it, else the release's default (21 on Debian 13).
        if apt-cache show openjdk-17-jre-headless >/dev/null 2>&1; then
            names+=(openjdk-17-jre-headless)
        else
            names+=(default-jre-headless)
        fi
    else
        names+=("$package")
    fi
done
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${names[@]}"
