import { scrubSecrets } from "./scrub-secrets.js";
import type { Store } from "./store.js";

/**
 * `store` whose committer, locks and history stores remove `secrets` (the
 * credentials of its URL) from every error they throw, in case a driver's
 * message quotes its connection string. Every member passes through, so a
 * member added to `Store` later is guarded too.
 */
export function guardSecrets(store: Store, secrets: readonly string[]): Store {
  if (secrets.length === 0) return store;
  const committer = scrubbing(store.committer, secrets);
  return new Proxy(store, {
    get(target, key) {
      return key === "committer" ? committer : guardedMember(target, key, secrets);
    },
  });
}

/** `target` whose methods throw (or reject with) their errors scrubbed, and whose locks and history stores do too. */
function scrubbing<T extends object>(target: T, secrets: readonly string[]): T {
  return new Proxy(target, { get: (object, key) => guardedMember(object, key, secrets) });
}

function guardedMember(object: object, key: string | symbol, secrets: readonly string[]): unknown {
  const value: unknown = Reflect.get(object, key, object);
  if (typeof value !== "function") return value;
  return (...args: unknown[]) => {
    let result: unknown;
    try {
      // Called on the object itself, not the proxy, so its private fields work.
      result = value.apply(object, args);
    } catch (error) {
      throw scrubSecrets(error, secrets);
    }
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        throw scrubSecrets(error, secrets);
      });
    }
    // A lock (`createLock`) or a history store (`openHistory`): its errors come from the same driver.
    return typeof result === "object" && result !== null ? scrubbing(result, secrets) : result;
  };
}
