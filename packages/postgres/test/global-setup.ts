import { startPostgres } from "@tidemark/test-servers";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { describeServer } from "../src/connection.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The connection string every test file uses (it carries a password). */
    postgresUrl: string;
    /** True when the tests started PostgreSQL themselves (false with POSTGRES_URL). */
    postgresLocal: boolean;
  }
}

/**
 * Starts Debian's PostgreSQL on a free loopback port with a temporary data
 * directory, or uses the server named by POSTGRES_URL after checking that it
 * answers. Throws, failing the whole run, when neither works: never a skip.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.POSTGRES_URL?.trim();
  if (external) {
    await assertAnswers(external);
    project.provide("postgresUrl", external);
    project.provide("postgresLocal", false);
    return undefined;
  }
  let server: Awaited<ReturnType<typeof startPostgres>>;
  try {
    server = await startPostgres();
  } catch (error) {
    throw new Error(
      `@tidemark/postgres tests: cannot start PostgreSQL, and POSTGRES_URL is not set: ${(error as Error).message}`,
      { cause: error },
    );
  }
  project.provide("postgresUrl", server.url);
  project.provide("postgresLocal", true);
  return () => server.close();
}

async function assertAnswers(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    // The server's own words, never the URL: it carries the password.
    throw new Error(`POSTGRES_URL: PostgreSQL at ${describeServer(url)} does not answer: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => {});
  }
}
