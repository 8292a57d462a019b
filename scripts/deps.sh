#!/usr/bin/env bash
# Installs the Debian packages esign needs, if any are missing, and fetches
# the Go modules. `make run` and `make test` call it, so a fresh machine
# needs nothing else. Pass "test" to add what only the tests use.
set -euo pipefail
want=(softhsm2 openssl ca-certificates)
if [ "${1:-}" = "test" ]; then
  # External verifiers and renderers the tests ask, the database the
  # audit tests run against, the browser the page tests drive, and the QR
  # decoder (zbarimg) the transcript tests read codes with.
  want+=(poppler-utils qpdf libnss3-tools mupdf-tools postgresql chromium zbar-tools)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "esign: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
go mod download
