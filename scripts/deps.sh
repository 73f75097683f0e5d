#!/usr/bin/env bash
# Installs the Debian packages larder needs, if any are missing.
# Usage: scripts/deps.sh [build] [test] [bench] [fuzz]   (default: build test)
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build test)

pkgs=()
for g in "${groups[@]}"; do
  case "$g" in
    build) pkgs+=(build-essential cmake pkg-config libevent-dev libxxhash-dev
                 libjansson-dev libmsgpack-dev libavro-dev zlib1g-dev
                 libssl-dev libcurl4-openssl-dev libexpat1-dev
                 libzookeeper-mt-dev) ;;
    test)  pkgs+=(libcmocka-dev redis-tools python3 zookeeper
                 default-jre-headless) ;;
    bench) pkgs+=(redis-server redis-tools memcached valgrind util-linux
                 time) ;;
    fuzz)  pkgs+=(clang libclang-rt-14-dev) ;; # libFuzzer: only recommended
    *) echo "deps.sh: unknown group '$g'" >&2; exit 64 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo=sudo; else
    echo "deps.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
