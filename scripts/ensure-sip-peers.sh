#!/usr/bin/env bash
# Installs the real SIP peers the tests run against (Debian packages): SIPp, baresip, Kamailio
# with its TLS module, and openssl (the TLS tests make their own CA).
set -euo pipefail
missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v baresip >/dev/null || missing+=(baresip-core)
command -v kamailio >/dev/null || missing+=(kamailio)
compgen -G '/usr/lib/*/kamailio/modules/tls.so' >/dev/null || missing+=(kamailio-tls-modules)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -eq 0 ]; then echo "[ensure-sip-peers] sipp, baresip, kamailio (with TLS) and openssl are installed"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[ensure-sip-peers] missing ${missing[*]}: install them (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "[ensure-sip-peers] installing ${missing[*]}"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
