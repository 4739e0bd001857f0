import type { Logger } from "@tidemark/core";
import { pino } from "pino";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "silent";

/** Structured JSON logs on stdout, written synchronously so nothing is lost when the process exits. */
export function createLogger(level: LogLevel): Logger & { level: string } {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
}

/** Passes everything through and tells `onRpcRetry` about each chain request the ingestor retries. */
export function observingRpcRetries(logger: Logger, onRpcRetry: (throttled: boolean) => void): Logger {
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.info(fields, message),
    error: (fields, message) => logger.error(fields, message),
    warn(fields, message) {
      const { backend, err } = fields as { backend?: string; err?: { status?: number; message?: string } };
      if (backend === "solana" || backend === "horizon") {
        onRpcRetry(err?.status === 429 || /\b429\b/.test(err?.message ?? ""));
      }
      logger.warn(fields, message);
    },
  };
}
