import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

/**
 * Imports a driver the adapter depends on (e.g. the AWS SDK of
 * @tidemark/dynamodb), resolved from the adapter's own location so the app
 * needs no copy of it and always gets the one the adapter was built against.
 */
export async function importFromAdapter<T>(adapter: string, dependency: string): Promise<T> {
  const adapterEntry = import.meta.resolve(adapter);
  const require = createRequire(adapterEntry);
  return (await import(pathToFileURL(require.resolve(dependency)).href)) as T;
}
