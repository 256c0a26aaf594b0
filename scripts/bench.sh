#!/bin/sh
# `bun run bench [scenario] [--json FILE]`: the benchmark, after the same set-up as the tests.
. "$(dirname "$0")/setup.sh"
# `streams` holds 10,000 connections open on each side: as many open files as we may have.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec bun scripts/with-services.ts bun bench/main.ts "$@"
