#!/usr/bin/env bash
# The main job, on one machine with no servers: builds @tidemark/core and runs its in-memory example,
# which ingests a sequence of blocks through the real run loop and prints each committed block.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

pnpm install --frozen-lockfile
# Only core (and what it depends on) is needed for the example.
pnpm turbo run build --filter=@tidemark/core
exec node packages/core/examples/in-memory.mjs "$@"
