import type { Store, StoreOptions } from "./store.js";
import { redactUrl } from "./store.js";
import { importAdapter } from "./optional-adapter.js";

/** `dynamodb:` (AWS from the environment) or `dynamodb://HOST:PORT` (an endpoint such as DynamoDB Local). */
export async function openDynamoDbStore(url: string, _options: StoreOptions): Promise<Store> {
  await importAdapter<unknown>("@tidemark/dynamodb", redactUrl(url));
  throw new Error("dynamodb store: wiring pending");
}
