import { KinVersion } from "../gen/model_pb.js";

/**
 * The name Go's generated `KinVersion.String()` returns: the enum name, or the
 * number itself for values the enum does not define.
 */
export function kinVersionName(version: KinVersion | number): string {
  const name = KinVersion[version as KinVersion];
  return typeof name === "string" ? name : String(version);
}

/** The name history ingestors commit under, exactly as agora's `ingestion.GetHistoryIngestorName` (`history_KIN4`). */
export function getHistoryIngestorName(version: KinVersion): string {
  return `history_${kinVersionName(version)}`;
}

/** The name events ingestors commit under, exactly as agora's `ingestion.GetEventsIngestorName` (`events_KIN4`). */
export function getEventsIngestorName(version: KinVersion): string {
  return `events_${kinVersionName(version)}`;
}
