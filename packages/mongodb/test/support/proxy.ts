import { TcpFaultProxy } from "@tidemark/test-servers";
import { MongoClient } from "mongodb";

/**
 * The suite's connection string rewritten to go through `proxy`, talking to
 * that one server directly (`directConnection`), credentials and options kept.
 */
function throughProxy(uri: string, proxy: TcpFaultProxy): string {
  const match = /^mongodb:\/\/([^@/]*@)?([^/?]+)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (match === null) {
    throw new Error(
      `fault tests need a mongodb:// connection string with a host list (not mongodb+srv): ${redact(uri)}`,
    );
  }
  const [, credentials = "", , path = "/", query = ""] = match;
  const parameters = new URLSearchParams(query.slice(1));
  parameters.set("directConnection", "true");
  return `mongodb://${credentials}${proxy.address}${path}?${parameters}`;
}

/** Starts a proxy in front of the server that takes writes (a replica set's primary, else the URI's first host). */
export async function proxyFor(uri: string): Promise<{ proxy: TcpFaultProxy; uri: string }> {
  const proxy = await TcpFaultProxy.start(await primaryOf(uri));
  return { proxy, uri: throughProxy(uri, proxy) };
}

/** Asked once per URI: the conformance kit starts a proxy for every lock and committer. */
const primaries = new Map<string, Promise<{ host: string; port: number }>>();

function primaryOf(uri: string): Promise<{ host: string; port: number }> {
  let found = primaries.get(uri);
  if (found === undefined) {
    found = (async () => {
      const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
      try {
        // isMaster, not hello: mongo-java-server only knows the older name; MongoDB still answers it.
        const primary = (await client.db("admin").command({ isMaster: 1 })).primary;
        return parseHost(typeof primary === "string" ? primary : firstHost(uri));
      } finally {
        await client.close();
      }
    })();
    found.catch(() => primaries.delete(uri));
    primaries.set(uri, found);
  }
  return found;
}

function firstHost(uri: string): string {
  const first = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/.exec(uri)?.[1]?.split(",")[0];
  if (!first) throw new Error(`cannot find a host in ${redact(uri)}`);
  return first;
}

function parseHost(hostPort: string): { host: string; port: number } {
  const colon = hostPort.lastIndexOf(":");
  if (colon <= 0) return { host: hostPort, port: 27017 };
  return { host: hostPort.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(hostPort.slice(colon + 1)) };
}

function redact(uri: string): string {
  return uri.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
