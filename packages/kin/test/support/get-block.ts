/** The getBlock configuration the Kin4 ingestor asks for. */
export const INGESTOR_GET_BLOCK_CONFIG = {
  encoding: "base64",
  transactionDetails: "full",
  maxSupportedTransactionVersion: 0,
  rewards: false,
};

/** A getBlock answer's text, read with plain fetch: none of the code under test. */
export async function getBlockText(
  url: string,
  slot: bigint,
  config: Record<string, unknown> = INGESTOR_GET_BLOCK_CONFIG,
): Promise<string> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "getBlock", params: [Number(slot), config] }),
  });
  return response.text();
}
