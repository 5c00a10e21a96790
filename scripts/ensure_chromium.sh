#!/usr/bin/env bash
# Browser tests drive Debian's chromium (never `playwright install`, which downloads a browser
# and fails on these machines). Install it when it is missing and we may; otherwise say why not.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure_chromium: /usr/bin/chromium is missing and we are not root; skipping" \
       "(run 'sudo apt-get install -y chromium' for the browser tests)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: /usr/bin/chromium is missing and there is no apt-get; skipping" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
test -x /usr/bin/chromium
