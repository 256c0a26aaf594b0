#!/bin/sh
# `npm test`: type check, then the whole suite against real Redis and PostgreSQL.
. "$(dirname "$0")/setup.sh"
bun run typecheck
# The browser tests (test/browser.test.ts, test/checkout.test.ts) need the system's Chromium:
# without it they are skipped here, and said so loudly; in CI (CI=true or REQUIRE_BROWSER=1)
# they fail instead.
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
# TEST_REDIS says on which Redis: single (one server), cluster (a Redis Cluster, started by
# scripts/with-services.ts), or both (the default): the suite on one Redis, then the
# cluster's files below again on a cluster (of the files given, those among them; with
# TEST_REDIS=cluster, the files given, or else these).
CLUSTER_FILES="test/lifecycle.test.ts test/concurrency.test.ts test/crash.test.ts test/stream.test.ts test/admin-events.test.ts test/admin-figures.test.ts test/prequeue.test.ts test/cluster.test.ts"
MODE="${TEST_REDIS:-both}"
case "$MODE" in
  # Two files at a time (Bun's --parallel: a process each): most of the suite waits on holds
  # lapsing, servers starting and a failover, so on 2 cores it takes about 440 s instead of 610.
  single|both) TEST_REDIS=single bun scripts/with-services.ts bun test --timeout 60000 --parallel=2 "$@" ;;
  cluster) ;;
  *) echo "TEST_REDIS must be single, cluster or both (got $MODE)" >&2; exit 2 ;;
esac
[ "$MODE" = single ] && exit 0
if [ "$#" -eq 0 ]; then
  # shellcheck disable=SC2086 # the list splits into files on purpose
  set -- $CLUSTER_FILES
elif [ "$MODE" = both ]; then
  picked=""
  for file in "$@"; do
    case " $CLUSTER_FILES " in *" ${file#./} "*) picked="$picked $file" ;; esac
  done
  [ -z "$picked" ] && exit 0
  # shellcheck disable=SC2086
  set -- $picked
fi
TEST_REDIS=cluster exec bun scripts/with-services.ts bun test --timeout 60000 "$@"
