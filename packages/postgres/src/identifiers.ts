import { InvalidArgumentError } from "@tidemark/core";

/**
 * A table name as a quoted SQL identifier. Identifiers cannot be bound as
 * parameters, so only plain names are accepted (letters, digits, underscores,
 * at most 63 bytes: PostgreSQL's limit), optionally schema-qualified.
 */
export function quoteTable(name: unknown, what: string): string {
  if (typeof name !== "string")
    throw new InvalidArgumentError(`postgres: ${what} must be a string, got ${typeof name}`);
  const parts = name.split(".");
  if (parts.length > 2 || parts.some((part) => !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(part))) {
    throw new InvalidArgumentError(
      `postgres: ${what} ${JSON.stringify(name)} is not an identifier (letters, digits and underscores, at most 63, optionally schema.table)`,
    );
  }
  return parts.map((part) => `"${part}"`).join(".");
}
