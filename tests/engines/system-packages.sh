#!/usr/bin/env bash
# Debian packages the portability suite needs, installed only when missing: a Java runtime for
# Spark (17 or newer) and a PostgreSQL server. Run by `make engines`; needs root or sudo.
set -euo pipefail

packages=()
if ! command -v java >/dev/null 2>&1; then
    packages+=(java)
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    packages+=(postgresql)
fi
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
fi
$sudo apt-get update -qq
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
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${names[@]}"
