import { isTidemarkError, TidemarkError } from "@tidemark/core";
import { InvalidConfigError } from "../config-error.js";
import { openDynamoDbStore } from "./dynamodb-store.js";
import { openEtcdStore } from "./etcd-store.js";
import { openMongoDbStore } from "./mongodb-store.js";
import { openPostgresStore } from "./postgres-store.js";
import { scrubSecrets } from "./scrub-secrets.js";
import { guardSecrets } from "./secret-guard.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { Store, StoreOptions } from "./store.js";
import { parseStoreUrl } from "./store-url.js";

/**
 * Opens the backend a store URL names; adapters other than SQLite are loaded
 * only when used. The URL is checked first (`checkStoreUrl`), and no error of
 * the backend, at opening or later, carries the URL's credentials.
 */
export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const { scheme, secrets } = parseStoreUrl(url, options.field ?? "--store");
  try {
    return guardSecrets(await openBackend(scheme, url, options), secrets);
  } catch (error) {
    const scrubbed = scrubSecrets(error, secrets);
    if (isTidemarkError(scrubbed, TidemarkError)) throw scrubbed;
    // Opening only builds clients (nothing connects yet), so what a driver throws here is about the URL.
    throw new InvalidConfigError(
      options.field ?? "--store",
      scrubbed instanceof Error ? scrubbed.message : String(scrubbed),
    );
  }
}

function openBackend(scheme: string, url: string, options: StoreOptions): Promise<Store> | Store {
  switch (scheme) {
    case "sqlite":
      return openSqliteStore(url, options);
    case "etcd":
    case "etcds":
      return openEtcdStore(url, options);
    case "dynamodb":
      return openDynamoDbStore(url, options);
    case "mongodb":
    case "mongodb+srv":
      return openMongoDbStore(url, options);
    default:
      // postgres: or postgresql:, the only schemes left that parseStoreUrl admits.
      return openPostgresStore(url, options);
  }
}
