import { startDynamoDbLocal } from "@tidemark/test-servers";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The DynamoDB endpoint the suite runs against. */
    dynamodbEndpoint: string;
    /** True when it is the DynamoDB Local this setup started: any credentials and region work. */
    dynamodbLocal: boolean;
  }
}

/**
 * Starts Amazon's DynamoDB Local (in memory, shared database) on a free
 * loopback port, or uses DYNAMODB_ENDPOINT with the usual AWS_* variables.
 * Throws, failing the whole run, when neither works: the suite never skips.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.DYNAMODB_ENDPOINT?.trim();
  if (external) {
    await assertAnswers(external);
    project.provide("dynamodbEndpoint", external);
    project.provide("dynamodbLocal", false);
    return undefined;
  }
  const local = await startDynamoDbLocal();
  project.provide("dynamodbEndpoint", local.endpoint);
  project.provide("dynamodbLocal", true);
  return () => local.close();
}

async function assertAnswers(endpoint: string): Promise<void> {
  try {
    // Unsigned, so AWS answers 400 (missing authentication); that still proves something is there.
    const response = await fetch(endpoint, { method: "POST", signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
  } catch (error) {
    const why =
      error instanceof Error ? `${error.message}${error.cause ? ` (${String(error.cause)})` : ""}` : String(error);
    throw new Error(`DYNAMODB_ENDPOINT: nothing answers at ${endpoint}: ${why}`);
  }
}
