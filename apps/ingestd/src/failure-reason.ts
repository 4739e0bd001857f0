/** A secret-bearing text (a configured URL) and what to show in its place. */
export interface Redaction {
  readonly secret: string;
  readonly shown: string;
}

const MAX_REASON = 300;
/** `scheme://***@` or `scheme://user:***@`, as the redactions above write it. */
const ALREADY_REDACTED = /^[a-z][a-z0-9+.-]*:\/\/(?:[^\s:@/]*:)?\*\*\*@$/i;

/**
 * An endpoint URL without what may be a credential: the userinfo, and the
 * path and query, where providers put API keys (`/v2/KEY`, `?api-key=KEY`).
 */
export function redactEndpoint(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(an unparsable URL)";
  }
  const userinfo = parsed.username !== "" || parsed.password !== "" ? "***@" : "";
  const rest = parsed.pathname.length > 1 || parsed.search !== "" ? "/…" : "";
  return `${parsed.protocol}//${userinfo}${parsed.host}${rest}`;
}

/** The redactions for a configured endpoint: as given and as `URL` normalizes it (which error messages may quote). */
export function endpointRedactions(url: string): Redaction[] {
  const shown = redactEndpoint(url);
  const redactions = [{ secret: url, shown }];
  try {
    const href = new URL(url).href;
    if (href !== url) redactions.push({ secret: href, shown });
  } catch {
    // Unparsable: only the text as given can appear.
  }
  return redactions;
}

/**
 * A failure's message and its cause's, on one line and at most 300
 * characters, with every configured URL replaced by its redacted form and the
 * userinfo of any other URL hidden, so health bodies and status lines never
 * show a credential.
 */
export function failureReason(error: unknown, redactions: readonly Redaction[]): string {
  let text = messageOf(error);
  if (error instanceof Error && error.cause !== undefined) {
    const cause = messageOf(error.cause);
    if (cause !== "" && !text.includes(cause)) text = `${text} (${cause})`;
  }
  // Longest first, so a URL that contains another configured one is replaced whole.
  for (const { secret, shown } of [...redactions].sort((a, b) => b.secret.length - a.secret.length)) {
    if (secret !== "") text = text.split(secret).join(shown);
  }
  text = text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)\S*@/gi, (userinfo, scheme: string) =>
      ALREADY_REDACTED.test(userinfo) ? userinfo : `${scheme}***@`,
    )
    .replace(/\s+/g, " ")
    .trim();
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 1)}…` : text;
}

function messageOf(value: unknown): string {
  if (value instanceof Error) return value.message || value.name;
  if (typeof value === "object" && value !== null && typeof (value as { message?: unknown }).message === "string") {
    return (value as { message: string }).message;
  }
  return String(value);
}
