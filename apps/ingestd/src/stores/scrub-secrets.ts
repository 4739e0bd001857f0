/**
 * Secrets shorter than this are not scrubbed: replacing every "ab" would
 * garble the messages that say what went wrong, and hides nothing worth it.
 */
const MIN_SECRET_LENGTH = 4;
/** How deep `scrubSecrets` follows an error's properties (causes, nested driver errors). */
const MAX_DEPTH = 6;

/** `text` with every secret, in any letter case, replaced by `***`. */
export function scrubText(text: string, secrets: readonly string[]): string {
  let scrubbed = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    scrubbed = scrubbed.replace(new RegExp(secret.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"), "gi"), "***");
  }
  return scrubbed;
}

/**
 * `value` (usually a driver's error) with every secret removed from its
 * message, stack and properties, its causes included. Returns `value` itself,
 * changed in place, unless a part of it cannot be changed (a frozen error);
 * then a copy of that part, with the same prototype, takes its place.
 */
export function scrubSecrets<T>(value: T, secrets: readonly string[]): T {
  const live = secrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH);
  if (live.length === 0) return value;
  return scrub(value, live, new Set(), 0) as T;
}

function scrub(value: unknown, secrets: readonly string[], seen: Set<object>, depth: number): unknown {
  if (typeof value === "string") return scrubText(value, secrets);
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH || seen.has(value)) return value;
  seen.add(value);
  const prototype = Object.getPrototypeOf(value);
  if (!(value instanceof Error) && !Array.isArray(value) && prototype !== Object.prototype && prototype !== null) {
    // Sockets, clients and the like: not part of what gets printed.
    return value;
  }
  const replaced = new Map<string, unknown>();
  for (const key of Object.getOwnPropertyNames(value)) {
    let current: unknown;
    try {
      current = Reflect.get(value, key);
    } catch {
      continue;
    }
    const next = scrub(current, secrets, seen, depth + 1);
    if (next !== current) replaced.set(key, next);
  }
  if (replaced.size === 0) return value;
  let writable = true;
  for (const [key, next] of replaced) {
    try {
      writable = Reflect.set(value, key, next) && writable;
    } catch {
      writable = false;
    }
  }
  if (writable) return value;
  const copy = Object.create(prototype) as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    const next = replaced.has(key) ? replaced.get(key) : Reflect.get(value, key);
    Object.defineProperty(copy, key, {
      value: next,
      writable: true,
      configurable: true,
      enumerable: descriptor?.enumerable ?? false,
    });
  }
  return copy;
}
