#!/bin/sh
# `npm run build`: dist/ticket-queue (or the file named), after the same set-up as npm start,
# so it works with only Node.js installed. The Dockerfile runs scripts/binary.ts directly.
. "$(dirname "$0")/setup.sh"
exec bun scripts/binary.ts "$@"
