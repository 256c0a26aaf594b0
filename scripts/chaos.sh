#!/bin/sh
# `bun run chaos [--quick] [--seed N] [--json FILE]`: the fault suite, after the same set-up as
# the tests. It runs its own Redis and PostgreSQL from the installed server binaries.
. "$(dirname "$0")/setup.sh"
exec bun chaos/main.ts "$@"
