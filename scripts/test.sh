#!/bin/sh
# `npm test`: type check, then the whole suite against real Redis and PostgreSQL.
. "$(dirname "$0")/setup.sh"
bun run typecheck
# The browser tests (test/browser.test.ts) need the system's Chromium: without it they are
# skipped here, and said so loudly; in CI (CI=true or REQUIRE_BROWSER=1) they fail instead.
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "${CI:-}" = "true" ] || [ "${REQUIRE_BROWSER:-}" = "1" ]; then
    verdict="they will FAIL (CI must run them)"
  else
    verdict="they will be SKIPPED"
  fi
  {
    echo "################################################################################"
    echo "## NO CHROMIUM at $CHROMIUM: the waiting-room browser tests cannot run;"
    echo "## $verdict. Install it with: sudo apt-get install -y chromium"
    echo "## (or set CHROMIUM_PATH to another Chromium)."
    echo "################################################################################"
  } >&2
fi
exec bun scripts/with-services.ts bun test --timeout 60000 "$@"
