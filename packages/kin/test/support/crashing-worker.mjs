// A worker script for WorkerPool's tests: echoes each task, or dies the way it is told to.
import { parentPort } from "node:worker_threads";

parentPort.on("message", (task) => {
  if (task.die === "throw") {
    // Thrown outside the message handler, as a stray callback would.
    setImmediate(() => {
      throw new Error("worker blew up");
    });
    return;
  }
  if (task.die === "exit") process.exit(7);
  const reply = () => parentPort.postMessage({ id: task.id, echo: task.value, bytes: task.bytes?.byteLength ?? 0 });
  if (task.delayMs) setTimeout(reply, task.delayMs);
  else reply();
});
