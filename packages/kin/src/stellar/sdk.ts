import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as StellarSdk from "@stellar/stellar-sdk";

let sdk: typeof StellarSdk | undefined;

/**
 * `@stellar/stellar-sdk`, loaded on first use rather than when the package is
 * imported, so Kin4 users never load it. Only the Kin2/Kin3 side calls this:
 * constructing a `KinStellarIngestor` or reading a Stellar entry. It is
 * synchronous because the model functions are; `require()` of the SDK's ES
 * module build (the file `import` resolves to) gives the same instance an
 * `import "@stellar/stellar-sdk"` elsewhere in the process does.
 */
export function stellarSdk(): typeof StellarSdk {
  if (sdk === undefined) {
    const require = createRequire(import.meta.url);
    sdk = require(fileURLToPath(import.meta.resolve("@stellar/stellar-sdk"))) as typeof StellarSdk;
  }
  return sdk;
}
