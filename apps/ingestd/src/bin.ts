#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=1
// The V8 flag keeps the young generation at its smallest (1 MB a semi-space): V8 otherwise grows it to
// 64 MB under mainnet-shaped blocks, where it cost memory and, beside worker threads, a third more CPU
// per block. One glibc malloc arena for all threads: with one per thread, memory freed by the block
// workers stayed fragmented, and a long run peaked about 25 MB higher; one arena costs about 2 % more
// CPU a block (see the README's benchmarks). Elsewhere than glibc the variable means nothing.
import { enginesNode, nodeVersionProblem } from "./node-version.js";

// Before anything that loads node:sqlite: an older Node would otherwise fail with a stack trace.
const engines = enginesNode(new URL("../package.json", import.meta.url));
const tooOld = engines === null ? null : nodeVersionProblem(process.version, engines);
if (tooOld !== null) {
  process.stderr.write(`tidemark: ${tooOld}\n`);
  process.exit(2);
}
const { runCli } = await import("./cli.js");

// SIGINT/SIGTERM stop the service gracefully (the lock is released so a standby takes over at
// once); a second signal exits immediately.
const controller = new AbortController();
let signals = 0;
for (const name of ["SIGINT", "SIGTERM"] as const) {
  process.on(name, () => {
    signals++;
    if (signals > 1) process.exit(130);
    controller.abort(new Error(`received ${name}`));
  });
}

const code = await runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  signal: controller.signal,
  stdin: process.stdin,
});
// Exit explicitly (idle keep-alive sockets of HTTP clients must not hold the process open), but only
// once stdout and stderr have handed everything to the pipe: exiting earlier loses the tail of a
// long `--json` listing read through a pipe.
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);

/** Resolves once everything written to `stream` so far has been flushed. */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write("", () => resolve());
  });
}
