#!/usr/bin/env bash
# Makes sure the programs the tests start themselves are installed:
#   chromium      headless browser for the end-to-end tests (chromedp drives /usr/bin/chromium)
#   redis-server  private Redis servers for fault tests (dbtest.StartRedis)
#   initdb/pg_ctl private PostgreSQL servers for fault tests
#   pgbouncer     private transaction-mode poolers (dbtest.StartPgBouncer)
#   buildah       builds and runs the image offline (deploy TestImageRunsOffline)
# As root, missing ones are installed from Debian without reading stdin; otherwise the script says
# what to install and fails.
set -euo pipefail
SCRIPT_NAME=test-tools.sh
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

need=()
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v redis-server >/dev/null || need+=(redis-server)
[[ -n $(pg_bindir) ]] || need+=(postgresql)
command -v pgbouncer >/dev/null || need+=(pgbouncer)
command -v buildah >/dev/null || need+=(buildah)

if ((${#need[@]} > 0)); then
	if ! is_root; then
		die "tests need ${need[*]}; install them (Debian/Ubuntu: sudo apt-get install -y ${need[*]}) and run again"
	fi
	apt_install "${need[@]}"
fi
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is still missing"
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
