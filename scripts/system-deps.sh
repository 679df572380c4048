#!/usr/bin/env bash
# Debian packages the project needs beyond Python: a JRE for local Spark, Chromium for the UI check.
# Usage: scripts/system-deps.sh [run|test]   (run needs Java only)
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
if [[ "${1:-test}" == test ]]; then
  command -v chromium >/dev/null || need+=(chromium)
fi
((${#need[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "missing Debian packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
