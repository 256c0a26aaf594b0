#!/bin/sh
# `bun run bench [scenario] [--json FILE]`: the benchmark, after the same set-up as the tests.
. "$(dirname "$0")/setup.sh"
exec bun scripts/with-services.ts bun bench/main.ts "$@"
