# Sourced by run.sh and test.sh: makes sure the pinned Bun and the locked dependencies are
# here. Needs only Node.js (npm) or Bun itself; installs nothing outside this folder.
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
