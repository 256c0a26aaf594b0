#!/bin/sh
# `bun run chaos [--mode buyer|shop] [--quick] [--seed N] [--json FILE]`: the fault suite (both modes
# unless --mode picks one), after the same set-up as the tests. It runs its own Redis and
# PostgreSQL from the installed server binaries.
. "$(dirname "$0")/setup.sh"
exec bun chaos/main.ts "$@"
