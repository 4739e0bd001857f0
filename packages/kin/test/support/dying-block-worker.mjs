// A block worker that dies on every block, as one that runs out of memory does.
import { parentPort } from "node:worker_threads";

parentPort.on("message", () => process.exit(7));
