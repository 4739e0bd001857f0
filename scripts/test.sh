#!/usr/bin/env bash
# The one test command: installs what is missing, builds every package, then runs every vitest
# project once from the root, then (for a full run, i.e. without arguments) the sqlite project again
# on the engines floor Node (scripts/test-node-floor.sh). Exits non-zero when any of the three failed;
# reports/vitest.json and reports/vitest-node-floor.json hold the counts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

# A stale report must never be mistaken for this run's (.ci/run reads it).
mkdir -p reports
rm -f reports/vitest.json reports/vitest-node-floor.json

pnpm install --frozen-lockfile
bash scripts/install-test-servers.sh
# Tests import the packages' dist/ (and test/pack.test.ts packs it), so build first. --continue: one
# broken package should not hide every other package's test results, but it still fails this script.
set +e
pnpm turbo run build --continue
build_rc=$?

pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json "$@"
vitest_rc=$?
# Arguments narrow the main run to what the caller is working on; the floor run belongs to a full run.
floor_rc=0
[ "$#" -eq 0 ] && { bash scripts/test-node-floor.sh; floor_rc=$?; }
[ "$build_rc" -eq 0 ] || echo "test.sh: the build failed (exit $build_rc); see the turbo output above" >&2
[ "$floor_rc" -eq 0 ] || echo "test.sh: the sqlite tests failed on the engines floor Node (exit $floor_rc); see above" >&2
for rc in "$vitest_rc" "$floor_rc" "$build_rc"; do [ "$rc" -eq 0 ] || exit "$rc"; done
