import { Code, ConnectError } from "@connectrpc/connect";

/**
 * A refused request: agora's validators answer INVALID_ARGUMENT, and the
 * message starts with the request field at fault (`account_id.value: ...`) so
 * a client can tell what to fix.
 */
export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);
}
