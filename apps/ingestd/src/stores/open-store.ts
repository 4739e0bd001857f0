import { InvalidConfigError } from "../config-error.js";
import { openDynamoDbStore } from "./dynamodb-store.js";
import { openEtcdStore } from "./etcd-store.js";
import { openMongoDbStore } from "./mongodb-store.js";
import { openPostgresStore } from "./postgres-store.js";
import { openSqliteStore } from "./sqlite-store.js";
import { redactUrl, type Store, type StoreOptions } from "./store.js";

/** Opens the backend a store URL names; adapters other than SQLite are loaded only when used. */
export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  if (url.startsWith("sqlite:")) return openSqliteStore(url, options);
  if (url.startsWith("etcd:") || url.startsWith("etcds:")) return openEtcdStore(url, options);
  if (url.startsWith("dynamodb:")) return openDynamoDbStore(url, options);
  if (url.startsWith("mongodb:") || url.startsWith("mongodb+srv:")) return openMongoDbStore(url, options);
  if (url.startsWith("postgres:") || url.startsWith("postgresql:")) return openPostgresStore(url, options);
  throw new InvalidConfigError("--store", `unknown store "${redactUrl(url)}"`);
}
