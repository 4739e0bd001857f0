#!/usr/bin/env bash
# The one test command: installs what is missing, builds every package, then runs every vitest
# project once from the root. Exits with vitest's exit code (or the build's, when only the build
# failed); reports/vitest.json holds the counts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

# A stale report must never be mistaken for this run's (.ci/run reads it).
mkdir -p reports
rm -f reports/vitest.json

pnpm install --frozen-lockfile
bash scripts/install-test-servers.sh
# Tests import the packages' dist/ (and test/pack.test.ts packs it), so build first. --continue: one
# broken package should not hide every other package's test results, but it still fails this script.
set +e
pnpm turbo run build --continue
build_rc=$?

pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json "$@"
vitest_rc=$?
[ "$build_rc" -eq 0 ] || echo "test.sh: the build failed (exit $build_rc); see the turbo output above" >&2
[ "$vitest_rc" -ne 0 ] && exit "$vitest_rc"
exit "$build_rc"
