import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach } from "vitest";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
});
const runningForFile = new Set<ChildProcess>();
afterAll(() => {
  for (const child of runningForFile) child.kill("SIGKILL");
  runningForFile.clear();
});

/** A temporary working directory for one test file, removed afterwards. */
export function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tidemark-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export type LogLine = Record<string, unknown> & { msg?: string; event?: string };

/** The built `tidemark` binary as a child process, with its stdout JSON lines collected. */
export class Cli {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  /** `fileScoped`: the child serves several tests, so it is killed after the file's tests, not after each test. */
  constructor(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; fileScoped?: boolean }) {
    this.child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    (options.fileScoped ? runningForFile : running).add(this.child);
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text, raw: true };
      }
      this.lines.push(line);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(line)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    createInterface({ input: this.child.stderr as NodeJS.ReadableStream }).on("line", (text) => this.stderr.push(text));
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        running.delete(this.child);
        runningForFile.delete(this.child);
        resolve({ code, signal });
      });
    });
  }

  /** Resolves with the first stdout line matching, past or future; rejects after `timeoutMs` or on exit. */
  waitFor(match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; stdout so far:\n${this.dump()}`)), timeoutMs);
      const waiter = {
        match,
        resolve: (line: LogLine) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      this.#waiters.push(waiter);
      void this.exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`tidemark exited (${code}) before the expected line; stdout:\n${this.dump()}`));
      });
    });
  }

  dump(): string {
    return [...this.lines.slice(-30).map((l) => JSON.stringify(l)), ...this.stderr.slice(-20)].join("\n");
  }
}

/** Runs the CLI to completion and returns what it printed. */
export async function runToEnd(args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv) {
  const cli = new Cli(args, { cwd, ...(env ? { env } : {}) });
  const { code } = await cli.exited;
  return { code, stdout: cli.lines, stderr: cli.stderr.join("\n") };
}

export const committed = (line: LogLine) => line.event === "committed";
