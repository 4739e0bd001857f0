#!/usr/bin/env bash
# Runs the sqlite vitest project on the lowest Node that `engines` accepts ($TIDEMARK_NODE_FLOOR from
# ensure-node.sh), so an API newer than the floor (node:sqlite grew `isOpen` in 22.15, for instance)
# fails here instead of on a user's machine. Vitest itself runs on that Node (vitest 5.1 supports
# ^22.12), and so do its workers and every `node` the tests spawn. Needs the packages built (the lock
# tests spawn dist/); scripts/test.sh runs it after its main run. Arguments go to vitest; the counts
# land in reports/vitest-node-floor.json, which .ci/run adds to reports/vitest.json's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

floor_prefix="${TIDEMARK_NODE_FLOOR_PREFIX:-${HOME:-/root}/.local/node${TIDEMARK_NODE_FLOOR%.*}}"
_tidemark_install_node "$TIDEMARK_NODE_FLOOR" "$floor_prefix"

# The floor must be what the manifests claim, or this would test the wrong Node.
engines="$(node -p 'require("./packages/sqlite/package.json").engines.node')"
if [ "$engines" != ">=${TIDEMARK_NODE_FLOOR%.0}" ]; then
  echo "test-node-floor: packages/sqlite engines.node is \"$engines\" but TIDEMARK_NODE_FLOOR is $TIDEMARK_NODE_FLOOR (scripts/ensure-node.sh)" >&2
  exit 1
fi

mkdir -p reports
rm -f reports/vitest-node-floor.json
echo "--- sqlite tests on Node $("$floor_prefix/bin/node" -v) (the engines floor)"
# Vitest's fork workers use process.execPath; PATH covers anything spawned as plain `node`.
PATH="$floor_prefix/bin:$PATH" "$floor_prefix/bin/node" node_modules/vitest/vitest.mjs run --project sqlite \
  --reporter=default --reporter=json --outputFile.json=reports/vitest-node-floor.json "$@"
