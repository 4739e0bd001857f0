/**
 * JSON exactly as Go's `encoding/json` writes a decoded `interface{}` value,
 * which is how agora stored a transaction's error: object keys sorted, `<`,
 * `>`, `&`, U+2028 and U+2029 escaped. Integers (which the RPC client may hand
 * over as bigints) are written as plain numbers.
 */
export function goJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return goString(value);
  if (Array.isArray(value)) return `[${value.map(goJson).join(",")}]`;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  return `{${keys.map((key) => `${goString(key)}:${goJson(object[key])}`).join(",")}}`;
}

function goString(value: string): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
