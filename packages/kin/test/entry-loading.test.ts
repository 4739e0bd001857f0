import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Address, getAddressEncoder } from "@solana/kit";
import { StrKey } from "@stellar/stellar-sdk";
import { beforeAll, describe, expect, it } from "vitest";
import { createSolanaEntry, decodeSolanaTransaction, encodeEntry, TOKEN_PROGRAM_ADDRESS } from "../src/index.js";
import { KinBlockFactory } from "../src/simulator/index.js";

// What a user's process loads is decided by the published entry points (dist/, through the
// package's `exports`), so these import `@tidemark/kin` by name from the package's own folder
// in a fresh Node process. scripts/test.sh builds before testing.
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const STELLAR = /\/node_modules\/@stellar\//;
const SOLANA_PROGRAM = /\/node_modules\/@solana-program\//;
const SOLANA_KIT = /\/node_modules\/@solana\//;

/**
 * Runs `body` (an ES module body with the import's namespace as `kin`) after
 * importing `specifier` in a new Node process; returns every module URL the
 * process loaded, recorded by a load hook, and what `body` printed.
 */
async function loadIn(specifier: string, body = ""): Promise<{ urls: string[]; output: unknown }> {
  const script = `
    import { registerHooks } from "node:module";
    const urls = [];
    registerHooks({ load(url, context, next) { urls.push(url); return next(url, context); } });
    const kin = await import(${JSON.stringify(specifier)});
    let output = null;
    ${body}
    process.stdout.write(JSON.stringify({ urls, output }));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    cwd: packageDir,
    timeout: 30_000,
  });
  return JSON.parse(stdout) as { urls: string[]; output: unknown };
}

describe("what importing @tidemark/kin loads", () => {
  beforeAll(() => {
    if (!existsSync(new URL("../dist/index.js", import.meta.url))) {
      throw new Error("packages/kin/dist is missing: run `pnpm --filter @tidemark/kin build` first");
    }
  });

  it("the main entry and its Kin4 path load neither the Stellar SDK nor the simulator's @solana-program packages", async () => {
    const factory = await KinBlockFactory.create({ seed: "entry-loading" });
    const entry = createSolanaEntry({ slot: 5n, transaction: (await factory.transfer(0, 1, 5n)).bytes });
    const { urls, output } = await loadIn(
      "@tidemark/kin",
      `
      const entry = kin.decodeEntry(Buffer.from(${JSON.stringify(Buffer.from(encodeEntry(entry)).toString("hex"))}, "hex"));
      new kin.KinSolanaIngestor({ rpcUrl: "http://127.0.0.1:1" });
      output = kin.kinHistoryCodec.accounts(entry).filter((a) => a.startsWith("G"));
      `,
    );
    // The hook saw the Solana side load: an empty list would prove nothing.
    expect(urls.some((url) => SOLANA_KIT.test(url))).toBe(true);
    expect(urls.filter((url) => STELLAR.test(url))).toEqual([]);
    expect(urls.filter((url) => SOLANA_PROGRAM.test(url))).toEqual([]);
    // agora's G... accounts of the transfer, computed without the SDK, are the SDK's strkeys.
    const decoded = decodeSolanaTransaction(entry);
    const transfer = decoded.instructions.find(
      (i) => decoded.accountKeys[i.programIndex] === TOKEN_PROGRAM_ADDRESS && i.data[0] === 3 && i.data.length === 9,
    );
    const keys = [0, 1].map((n) => decoded.accountKeys[transfer?.accounts[n] ?? -1]);
    expect(keys.every((key) => key !== undefined)).toBe(true);
    expect(output).toEqual(
      keys.map((key) => StrKey.encodeEd25519PublicKey(Buffer.from(getAddressEncoder().encode(key as Address)))),
    );
  });

  it("loads the Stellar SDK once a Kin2/Kin3 ingestor is constructed", async () => {
    const { urls } = await loadIn(
      "@tidemark/kin",
      `new kin.KinStellarIngestor({ horizonUrl: "https://horizon.kinfederation.com" });`,
    );
    expect(urls.some((url) => STELLAR.test(url))).toBe(true);
  });

  it("the simulator entry loads @solana-program (its optional peer dependencies)", async () => {
    const { urls } = await loadIn("@tidemark/kin/simulator");
    expect(urls.some((url) => SOLANA_PROGRAM.test(url))).toBe(true);
  });
});
