// Kin4 ingestion throughput against the local Solana RPC server with 50 ms added to every request,
// at concurrency 1 and 8 in the same run, and the RPC requests it makes per block.
// Run after `pnpm build`: node bench/solana-throughput.mjs
import { KinSolanaIngestor } from "../dist/index.js";
import { KinBlockFactory, SolanaChain, SolanaRpcServer } from "../dist/simulator/index.js";

const LATENCY_MS = 50;
const FIRST_SLOT = 300_000_000n;

/** A chain of `blocks` consecutive blocks of signed Kin traffic (a few distinct blocks' worth of transactions, reused). */
async function buildChain(blocks) {
  const factory = await KinBlockFactory.create({ seed: "bench" });
  const templates = [];
  for (let i = 0; i < 16; i++) {
    templates.push([
      await factory.transfer(i, i + 1, 1_000n),
      await factory.transfer(i + 2, i + 3, 5_000n, { checked: true }),
      await factory.cpiTransfer(i + 1, i + 4, 700n),
      await factory.otherTokenTransfer(i, i + 1, 10n),
      await factory.solTransfer(i + 3, i, 1_000n),
    ]);
  }
  const chain = new SolanaChain();
  for (let i = 0; i < blocks; i++) chain.append(templates[i % templates.length], { slot: FIRST_SLOT + BigInt(i) });
  return chain;
}

/** Ingests `blocks` blocks from the start of the chain; returns the elapsed time and the requests made. */
async function measure(server, concurrency, blocks) {
  server.resetCounters();
  let entries = 0;
  const ingestor = new KinSolanaIngestor({ rpcUrl: server.url, startSlot: FIRST_SLOT, concurrency });
  const controller = new AbortController();
  const started = performance.now();
  const queue = await ingestor.ingest(controller.signal, { write: async () => void entries++ }, null);
  const iterator = queue[Symbol.asyncIterator]();
  for (let i = 0; i < blocks; i++) {
    const result = await (await iterator.next()).value;
    if (result.error) throw result.error;
  }
  const elapsedMs = performance.now() - started;
  const requests = { getBlock: server.requests("getBlock"), getBlocksWithLimit: server.requests("getBlocksWithLimit") };
  controller.abort();
  await iterator.return?.();
  return { elapsedMs, entries, requests };
}

const chain = await buildChain(2048);
const server = await SolanaRpcServer.start({ chain, latencyMs: LATENCY_MS });
try {
  const serial = await measure(server, 1, 100);
  const parallel = await measure(server, 8, 2048);
  const serialRate = 100 / (serial.elapsedMs / 1000);
  const parallelRate = 2048 / (parallel.elapsedMs / 1000);
  console.log(`rpc_latency: ${LATENCY_MS} ms`);
  console.log(`kin4_blocks_per_second_concurrency_1: ${serialRate.toFixed(1)} blocks/s`);
  console.log(`kin4_blocks_per_second_concurrency_8: ${parallelRate.toFixed(1)} blocks/s`);
  console.log(`kin4_speedup_concurrency_8_vs_1: ${(parallelRate / serialRate).toFixed(2)} x`);
  console.log(`kin4_getBlock_requests_per_block: ${(parallel.requests.getBlock / 2048).toFixed(3)} requests`);
  // The chain holds exactly 2048 blocks: the listing that follows the second batch finds the tip (a poll).
  const listings = parallel.requests.getBlocksWithLimit;
  const polls = listings > 2 ? listings - 2 : 0;
  console.log(`kin4_getBlocksWithLimit_requests_per_1024_blocks: ${((listings - polls) / 2).toFixed(2)} requests`);
  console.log(`kin4_getBlocksWithLimit_polls_at_tip: ${polls} requests`);
  console.log(`kin4_entries_written_per_block: ${(parallel.entries / 2048).toFixed(2)} entries`);
} finally {
  await server.close();
}
