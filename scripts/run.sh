#!/usr/bin/env bash
# The main job on its embedded default, on a machine with no servers: `tidemark run` ingests a simulated
# Kin4 network (real signed SPL Token transactions, a block every 400 ms) into ./tidemark.db (SQLite),
# with a live status line on a terminal. Ctrl-C stops it, releasing the lock; running it again resumes.
# Extra arguments go to `tidemark run` (e.g. --until 4490000000, --metrics-port 9090, --rpc URL).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

pnpm install --frozen-lockfile >&2
pnpm turbo run build --filter=@tidemark/ingestd... --output-logs=errors-only >&2
# The flags and environment of the `tidemark` command itself (its first line).
exec env MALLOC_ARENA_MAX=1 node --max-semi-space-size=1 apps/ingestd/dist/bin.js run "$@"
