import { readdirSync, readFileSync } from "node:fs";

/** Worker threads of this process right now (Node names their OS threads WorkerThread; Linux only). */
export function workerThreads(): number {
  let count = 0;
  for (const task of readdirSync("/proc/self/task")) {
    try {
      if (readFileSync(`/proc/self/task/${task}/comm`, "utf8").trim() === "WorkerThread") count++;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return count;
}

/** Worker threads once their number has stopped changing: threads of an ended session take a moment to stop. */
export async function settledWorkerThreads(): Promise<number> {
  let last = workerThreads();
  for (let stable = 0, i = 0; stable < 3 && i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = workerThreads();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}
