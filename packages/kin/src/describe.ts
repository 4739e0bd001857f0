/** A short description of an unexpected value, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "object") return "an object";
  // The RPC client may hand over integers as bigints; to a reader they are numbers.
  if (typeof value === "bigint") return `number ${value}`;
  return `${typeof value} ${String(value)}`;
}
