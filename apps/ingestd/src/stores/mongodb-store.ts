import type { Store, StoreOptions } from "./store.js";
import { redactUrl } from "./store.js";
import { importAdapter } from "./optional-adapter.js";

/** `mongodb://…` or `mongodb+srv://…`: commits and locks in MongoDB, via @tidemark/mongodb. */
export async function openMongoDbStore(url: string, _options: StoreOptions): Promise<Store> {
  await importAdapter<unknown>("@tidemark/mongodb", redactUrl(url));
  throw new Error("mongodb store: wiring pending");
}
