#!/bin/sh
# `npm start`: the service with a demo event, on http://localhost:${PORT:-3000}.
. "$(dirname "$0")/setup.sh"
exec bun scripts/with-services.ts bun src/main.ts serve --dev --demo
