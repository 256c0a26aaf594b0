#!/bin/sh
# `bun run shop-demo` (or `npm run shop-demo`): the service in shop mode with a demo event,
# beside the example shop (examples/shop/); scripts/shop-demo.ts prints both addresses.
. "$(dirname "$0")/setup.sh"
exec bun scripts/with-services.ts bun scripts/shop-demo.ts
