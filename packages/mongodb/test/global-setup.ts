import { type MongoJavaTestServer, startMongoJavaServer } from "@tidemark/test-servers";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The connection string every test file uses. */
    mongodbUri: string;
    /** What it points at, for test names and messages. */
    mongodbServer: string;
    /** True when the tests started mongo-java-server themselves (they may then start more, e.g. H2 for restarts). */
    mongodbLocal: boolean;
  }
}

/**
 * `MONGODB_URI` points the suite at a real MongoDB (a replica set or Atlas);
 * otherwise mongo-java-server (memory backend) is started on a free loopback
 * port. A server that cannot start fails the suite with its output: never a skip.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.MONGODB_URI;
  if (external) {
    project.provide("mongodbUri", external);
    project.provide("mongodbServer", "MONGODB_URI");
    project.provide("mongodbLocal", false);
    return async () => {};
  }
  let server: MongoJavaTestServer;
  try {
    server = await startMongoJavaServer({ backend: "memory" });
  } catch (error) {
    throw new Error(
      `@tidemark/mongodb tests: cannot start mongo-java-server, and MONGODB_URI is not set: ${(error as Error).message}`,
      { cause: error },
    );
  }
  project.provide("mongodbUri", server.uri);
  project.provide("mongodbServer", "mongo-java-server 1.47.0 (memory backend)");
  project.provide("mongodbLocal", true);
  return () => server.close();
}
