import type { Logger } from "@tidemark/core";
import { pino } from "pino";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";

/** Structured JSON logs on stdout, written synchronously so nothing is lost when the process exits. */
export function createLogger(level: LogLevel): Logger & { level: string } {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
}
