#!/usr/bin/env bash
# Install the Debian packages the test suite needs (listed in system-packages.txt), if missing.
# Why: some tests drive real servers and a real browser (PostgreSQL, Chromium), which come from
# Debian, not PyPI. Installed packages are left alone; nothing is installed when all are present.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
while read -r pkg _; do
    case "$pkg" in ""|\#*) continue ;; esac
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done < system-packages.txt
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: the tests need these Debian packages: ${missing[*]} (no apt-get here: install them by hand)" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n)
    else echo "system-deps: the tests need these Debian packages: ${missing[*]}. Run: sudo apt-get install ${missing[*]}" >&2; exit 1
    fi
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
