import type { TestProject } from "vitest/node";
import { KIN2_MAINNET, KIN3_MAINNET } from "../src/index.js";
import { HorizonServer, SolanaRpcServer } from "../src/simulator/index.js";
import { locateFixtures } from "./support/fixtures.js";
import { type BlockExpectation, buildSolanaScenario, kinScenario, pubnetScenario } from "./support/scenario.js";

interface StellarProvided {
  readonly url: string;
  readonly version: number;
  readonly passphrase: string;
  readonly expected: readonly { readonly ledger: number; readonly hashes: readonly string[] }[];
}

declare module "vitest" {
  export interface ProvidedContext {
    fixturesDir: string;
    solana: { url: string; expected: readonly BlockExpectation[]; skipped: readonly string[] };
    pubnet: StellarProvided;
    kin3: StellarProvided;
    kin2: StellarProvided;
  }
}

/**
 * Starts the simulated networks every test file reads (no Kin network is
 * reachable from here): a Solana JSON-RPC node serving real mainnet blocks
 * plus blocks of SDK-built Kin traffic, and Horizon servers serving real
 * Stellar pubnet transactions and signed Kin2/Kin3 histories. Fails the whole
 * run, with the reason, when the recorded data is missing.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fixturesDir = locateFixtures();
  const solanaScenario = await buildSolanaScenario(fixturesDir);
  const solana = await SolanaRpcServer.start({ chain: solanaScenario.chain });
  const stellar = [
    pubnetScenario(fixturesDir),
    kinScenario(KIN3_MAINNET, 20_000_000, 40),
    kinScenario(KIN2_MAINNET, 30_000_000, 24),
  ];
  const horizons = await Promise.all(
    stellar.map((s) => HorizonServer.start({ ledgers: s.ledgers, networkPassphrase: s.network.passphrase })),
  );
  const provided = (i: number): StellarProvided => ({
    url: (horizons[i] as HorizonServer).url,
    version: (stellar[i] as (typeof stellar)[number]).network.version,
    passphrase: (stellar[i] as (typeof stellar)[number]).network.passphrase,
    expected: (stellar[i] as (typeof stellar)[number]).expected,
  });
  project.provide("fixturesDir", fixturesDir);
  project.provide("solana", { url: solana.url, expected: solanaScenario.expected, skipped: solanaScenario.skipped });
  project.provide("pubnet", provided(0));
  project.provide("kin3", provided(1));
  project.provide("kin2", provided(2));
  return async () => {
    await solana.close();
    await Promise.all(horizons.map((h) => h.close()));
  };
}
