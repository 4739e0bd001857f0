/** What `/ready` says about one chain. */
export interface ChainReadinessBody {
  chain: string;
  ready: boolean;
  leader: boolean;
  lag: string | null;
  failing?: { request: string; failures: number; kind: string; reason: string };
  reasons?: string[];
}

export interface Probe {
  status: number;
  text: string;
}

/** One GET of a health endpoint: its status and body. */
export async function probe(port: number, path: string): Promise<Probe> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

export async function ready(port: number): Promise<{ status: number; chains: ChainReadinessBody[]; text: string }> {
  const { status, text } = await probe(port, "/ready");
  return { status, text, chains: (JSON.parse(text) as { chains: ChainReadinessBody[] }).chains };
}

/** Polls `check` every 100 ms until it returns something other than undefined; fails after `timeoutMs` with `what` and the last value seen. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  describeLast: () => string = () => "",
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}. ${describeLast()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A sample's value in a Prometheus text exposition, or undefined when the series is absent. */
export function sample(metrics: string, series: string): number | undefined {
  for (const line of metrics.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
