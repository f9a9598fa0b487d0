#!/usr/bin/env bash
# Installs the independently written BitTorrent programs (and the browser) that Tessera's tests
# use as real peers, trackers and yardsticks. Debian/Ubuntu; needs root or sudo. Idempotent:
# does nothing when everything is already there.
set -euo pipefail

packages=(transmission-cli transmission-daemon aria2 qbittorrent-nox rtorrent opentracker mktorrent chromium time)
commands=(transmission-daemon transmission-remote aria2c qbittorrent-nox rtorrent opentracker mktorrent chromium /usr/bin/time)

missing=0
for c in "${commands[@]}"; do
  command -v "$c" >/dev/null 2>&1 || { missing=1; break; }
done
[ "$missing" = 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
