// STUB (lead): the secrets helper implements this file; other code may already import its exports.
import { InvalidConfigError } from "../config-error.js";

/**
 * Checks a store URL as the user gave it (flag, variable or file key named by
 * `field`) and returns it unchanged. Refuses a URL whose userinfo is not
 * percent-encoded, saying how to encode it, without ever echoing the URL.
 */
export function checkStoreUrl(text: string, field: string): string {
  if (text === "") throw new InvalidConfigError(field, "must not be empty");
  return text;
}

/** The URL with its whole userinfo hidden, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@/]*)@/, "//$1:***@");
}
