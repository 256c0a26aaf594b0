# Sourced by run.sh and test.sh: makes sure the pinned Bun and the locked dependencies are
# here. Needs only Node.js (npm) or Bun itself; installs nothing outside this folder, except
# pg_autoctl (the PostgreSQL failover test's formation, scripts/pg-ha.ts) when run as root.
set -eu
cd "$(dirname "$0")/.."

BUN_VERSION=$(sed -n 's/.*"packageManager": *"bun@\([^"]*\)".*/\1/p' package.json)
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.bun/bin:$PATH"

if [ "$(bun --version 2>/dev/null || true)" != "$BUN_VERSION" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "ticket-queue needs Bun $BUN_VERSION, or Node.js with npm to install it:" >&2
    echo "  sudo apt-get install -y nodejs npm    (or see https://bun.sh for Bun itself)" >&2
    exit 1
  fi
  echo "installing Bun $BUN_VERSION into .tools/ ..." >&2
  npm install --prefix .tools --no-save --no-package-lock --no-audit --no-fund "bun@$BUN_VERSION" >&2
  # Some npm setups skip install scripts; Bun's puts the native binary in place.
  bun --version >/dev/null 2>&1 || (cd .tools/node_modules/bun && node install.js >&2)
fi

bun install --frozen-lockfile >&2

# pg_autoctl (pg_auto_failover) for the installed PostgreSQL's major version: as root it is
# installed; otherwise the command is said, and the failover test fails until it is run.
if ! command -v pg_autoctl >/dev/null 2>&1 && [ -d /usr/lib/postgresql ] && command -v apt-get >/dev/null 2>&1; then
  PG_AUTOCTL_PACKAGE="postgresql-$(ls /usr/lib/postgresql | sort -n | tail -1)-auto-failover"
  if [ "$(id -u)" = 0 ]; then
    echo "installing $PG_AUTOCTL_PACKAGE (pg_autoctl) ..." >&2
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$PG_AUTOCTL_PACKAGE"; } >&2 ||
      echo "could not install $PG_AUTOCTL_PACKAGE: the PostgreSQL failover test needs it" >&2
  else
    echo "pg_autoctl is missing: the PostgreSQL failover test needs it: sudo apt-get install -y $PG_AUTOCTL_PACKAGE" >&2
  fi
fi
