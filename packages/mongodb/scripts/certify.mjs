#!/usr/bin/env node
// Runs tidemark's conformance kit against the server MONGODB_URI points at (MongoDB,
// Atlas, or anything that claims to speak its protocol) and prints which groups pass.
//
//   MONGODB_URI=mongodb://host:27017/certify node scripts/certify.mjs [--runs N]
//
// Races are probabilistic: --runs repeats the kit (default 3) and a group passes only
// if it passed every time. Exits 1 unless every group passed. Needs the workspace
// built (`pnpm turbo run build --filter=@tidemark/mongodb...`).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const uri = process.env.MONGODB_URI;
if (!uri) {
  console.error("certify: set MONGODB_URI to the server to certify, e.g. mongodb://127.0.0.1:27017/certify");
  process.exit(2);
}
const runsFlag = process.argv.indexOf("--runs");
const runs = runsFlag === -1 ? 3 : Number(process.argv[runsFlag + 1]);
if (!Number.isInteger(runs) || runs < 1) {
  console.error("certify: --runs needs a positive integer");
  process.exit(2);
}

const redacted = uri.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
console.log(`certifying ${redacted} with the tidemark conformance kit (${runs} run${runs === 1 ? "" : "s"})\n`);

/** group name ("committer > concurrency") -> { passed, failed, failures } */
const groups = new Map();
const dir = await mkdtemp(join(tmpdir(), "tidemark-certify-"));
try {
  for (let run = 1; run <= runs; run++) {
    const report = await runKit(join(dir, `report-${run}.json`));
    for (const file of report.testResults) {
      for (const test of file.assertionResults) {
        // ancestorTitles: ["mongodb (MONGODB_URI) committer", "concurrency"]
        const [suite = "", group = ""] = test.ancestorTitles;
        const name = `${suite.split(" ").at(-1)} > ${group}`;
        const entry = groups.get(name) ?? { passed: 0, failed: 0, failures: new Set() };
        if (test.status === "passed") entry.passed++;
        else {
          entry.failed++;
          entry.failures.add(`${test.title}: ${firstLine(test.failureMessages?.[0])}`);
        }
        groups.set(name, entry);
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

if (groups.size === 0) {
  console.error("certify: the kit reported no tests; is the workspace built and the server reachable?");
  process.exit(1);
}
let allPassed = true;
for (const [name, { passed, failed, failures }] of groups) {
  const ok = failed === 0;
  allPassed &&= ok;
  console.log(`${ok ? "PASS" : "FAIL"}  ${name.padEnd(26)} ${passed} passed, ${failed} failed`);
  for (const failure of failures) console.log(`        ${failure}`);
}
console.log(
  allPassed
    ? "\nverdict: every group passed; tidemark's guarantees hold on this server as far as the kit can tell."
    : "\nverdict: NOT SAFE; a failed group means the server breaks an atomicity tidemark relies on.",
);
process.exit(allPassed ? 0 : 1);

function runKit(output) {
  return new Promise((resolve, reject) => {
    execFile(
      join(packageDir, "node_modules", ".bin", "vitest"),
      ["run", "test/conformance.test.ts", "--reporter=json", `--outputFile=${output}`],
      { cwd: packageDir, env: { ...process.env, MONGODB_URI: uri }, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 },
      // vitest exits non-zero when tests fail; the report says which.
      async (error, _stdout, stderr) => {
        try {
          resolve(JSON.parse(await readFile(output, "utf8")));
        } catch {
          reject(new Error(`certify: vitest produced no report (${error?.message ?? "no error"})\n${stderr}`));
        }
      },
    );
  });
}

function firstLine(message) {
  // Strips colour codes (ESC [ ... m) without a control character in a regex.
  const esc = String.fromCharCode(27);
  return String(message ?? "")
    .split("\n")[0]
    .split(esc)
    .map((part, i) => (i === 0 ? part : part.replace(/^\[[0-9;]*m/, "")))
    .join("")
    .slice(0, 160);
}
