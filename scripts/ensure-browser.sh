#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (test/browser, playwright-core): Playwright
# cannot download its own browser build here, so the tests drive /usr/bin/chromium.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then echo "[ensure-browser] chromium is installed"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[ensure-browser] missing chromium: install it (apt-get install chromium)" >&2
  exit 1
fi
echo "[ensure-browser] installing chromium"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
