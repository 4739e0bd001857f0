import type { Logger } from "@tidemark/core";
import { pino } from "pino";

/** One JSON line a pino logger wrote. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A real pino logger (ingestd's) that writes its lines into an array. */
export function pinoLines(): { readonly logger: Logger; readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

/** pino's number for `warn`. */
export const WARN = 40;
