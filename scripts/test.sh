#!/bin/sh
# `npm test`: type check, then the whole suite against real Redis and PostgreSQL.
. "$(dirname "$0")/setup.sh"
bun run typecheck
exec bun scripts/with-services.ts bun test --timeout 60000 "$@"
