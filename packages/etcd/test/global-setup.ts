import { startEtcd } from "@tidemark/test-servers";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Client URLs of the etcd the suite runs against. */
    etcdEndpoints: string[];
  }
}

/**
 * Starts a real etcd on free loopback ports with a temporary data directory,
 * or uses the cluster named by ETCD_ENDPOINTS (comma-separated client URLs).
 * Throws, failing the whole run, when neither works: the suite never skips.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = (process.env.ETCD_ENDPOINTS ?? "")
    .split(",")
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint.length > 0);
  if (external.length > 0) {
    await assertHealthy(external);
    project.provide("etcdEndpoints", external);
    return undefined;
  }
  const etcd = await startEtcd();
  project.provide("etcdEndpoints", [...etcd.endpoints]);
  return () => etcd.close();
}

async function assertHealthy(endpoints: readonly string[]): Promise<void> {
  for (const endpoint of endpoints) {
    let problem: string;
    try {
      const response = await fetch(new URL("/health", endpoint), { signal: AbortSignal.timeout(5000) });
      const body = await response.text();
      if (response.ok && /"health":\s*"?true/.test(body)) return;
      problem = `answered ${response.status}: ${body.slice(0, 200)}`;
    } catch (error) {
      problem =
        error instanceof Error ? `${error.message}${error.cause ? ` (${String(error.cause)})` : ""}` : String(error);
    }
    throw new Error(`ETCD_ENDPOINTS: etcd at ${endpoint} is not healthy: ${problem}`);
  }
}
