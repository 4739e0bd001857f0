import { InvalidConfigError } from "../config-error.js";

/** The schemes `openStore` dispatches on; `sqlite:` takes a path, the others a URL. */
const STORE_SCHEMES = ["sqlite", "etcd", "etcds", "dynamodb", "mongodb", "mongodb+srv", "postgres", "postgresql"];
const STORE_FORMS = "use sqlite:PATH, etcd://HOST:PORT, dynamodb:[//ENDPOINT], mongodb://… or postgres://…";
/** RFC 3986 userinfo characters that need no encoding, or a percent-encoded byte. */
const ENCODED_USERINFO = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
/** Query parameters that drivers read as credentials (`?password=` for pg, for example). */
const SECRET_PARAMETER = /pass|secret|token/i;
const HOW_TO_ENCODE =
  'encode each with encodeURIComponent, e.g. "@" → %40, "/" → %2F, ":" → %3A, "%" → %25, ' +
  '"#" → %23, "?" → %3F, a space → %20, and non-ASCII characters as their UTF-8 bytes (é → %C3%A9)';

/** A store URL taken apart, its credentials decoded. */
export interface StoreUrl {
  /** `postgres`, `mongodb+srv`, … (without the colon). */
  readonly scheme: string;
  /** The decoded user name; empty when the URL has none. */
  readonly username: string;
  /** The decoded password; undefined when the URL has none. */
  readonly password: string | undefined;
  /** The hosts as written (`HOST:PORT`), several for `etcd://a:1,b:2` or `mongodb://a:1,b:2`; none for `dynamodb:`. */
  readonly hosts: readonly string[];
  /** What follows the hosts, as written: the path, the query and the fragment. */
  readonly tail: string;
  readonly searchParams: URLSearchParams;
  /** The URL as written without its userinfo, for a driver that is given the credentials separately. */
  readonly withoutUserinfo: string;
  /** Every form in which the credentials may show up in a driver's message, for `scrubSecrets`. */
  readonly secrets: readonly string[];
}

type Split = { readonly ok: true; readonly url: StoreUrl } | { readonly ok: false; readonly problem: string };

/**
 * Checks a store URL as the user gave it (flag, variable or file key named by
 * `field`) and returns it unchanged. Refuses a URL whose userinfo is not
 * percent-encoded, saying how to encode it, without ever echoing the URL.
 */
export function checkStoreUrl(text: string, field: string): string {
  const split = splitStoreUrl(text);
  if (!split.ok) throw new InvalidConfigError(field, split.problem);
  return text;
}

/** The parts of a store URL that `checkStoreUrl` accepts; throws its error (naming `field`) otherwise. */
export function parseStoreUrl(text: string, field = "--store"): StoreUrl {
  const split = splitStoreUrl(text);
  if (!split.ok) throw new InvalidConfigError(field, split.problem);
  return split.url;
}

/**
 * The URL with its whole userinfo hidden, for logs and errors.
 *
 * It does not trust a URL parser to find the userinfo: a raw `/`, `?` or `#`
 * in a password ends the authority early (`etcd://root:12/S3cret@host` parses
 * as host `root`, port 12), so a parser would show the password as a path.
 * Everything between `//` and the last `@` is hidden instead, which can hide
 * more than the userinfo but never less.
 */
export function redactUrl(url: string): string {
  if (url.startsWith("sqlite:")) return url;
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0];
  if (scheme === undefined) return url.includes("@") ? "***" : url;
  const rest = url.slice(scheme.length);
  if (!rest.startsWith("//")) return url.includes("@") ? `${scheme}***` : redactQuery(url);
  const at = rest.lastIndexOf("@");
  if (at < 0) return redactQuery(url);
  return redactQuery(`${scheme}//***@${rest.slice(at + 1)}`);
}

/** Hides the values of credential query parameters (`?password=…`). */
function redactQuery(url: string): string {
  return url.replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, separator: string, name: string) =>
    SECRET_PARAMETER.test(safeDecode(name) ?? name) ? `${separator}${name}=***` : whole,
  );
}

function splitStoreUrl(text: string): Split {
  if (text.trim() === "") return { ok: false, problem: "must not be empty" };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1];
  if (scheme === undefined || !STORE_SCHEMES.includes(scheme)) {
    // Only a scheme-like word is echoed: the text may be a password given in the wrong place.
    const kind = scheme !== undefined && scheme.length <= 20 ? ` "${scheme}"` : "";
    return { ok: false, problem: `unknown store kind${kind}: ${STORE_FORMS}` };
  }
  if (scheme === "sqlite") {
    return { ok: true, url: storeUrl(scheme, "", undefined, [], text.slice("sqlite:".length), text, []) };
  }
  // URL drops or encodes these silently, so the driver and the checks here would see different URLs.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(text)) {
    return {
      ok: false,
      problem: `a store URL must not contain spaces or control characters: percent-encode them (a space is %20)`,
    };
  }
  const afterScheme = text.slice(scheme.length + 1);
  if (!afterScheme.startsWith("//")) {
    if (scheme === "dynamodb" && !afterScheme.includes("@") && parses(text)) {
      return { ok: true, url: storeUrl(scheme, "", undefined, [], afterScheme, text, []) };
    }
    return { ok: false, problem: `not a store URL: a ${scheme} URL starts with ${scheme}://` };
  }
  const rest = afterScheme.slice(2);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const tail = end < 0 ? "" : rest.slice(end);
  const at = authority.lastIndexOf("@");
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const hostList = authority.slice(at + 1);
  // What follows the last "@" is the host whatever the userinfo holds, so it is safe to show.
  const shown = `${scheme}://***@${redactedHosts(rest)}…`;
  const unencoded = {
    ok: false,
    problem: `the user name and password in this URL (${shown}) must be percent-encoded, like any "@" after the host: ${HOW_TO_ENCODE}`,
  } as const;
  // An "@" past the first "/", "?" or "#" is most likely a password holding one of those, unencoded.
  if (tail.includes("@")) return unencoded;
  let username = "";
  let password: string | undefined;
  const secrets: string[] = [];
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    const rawUser = colon < 0 ? userinfo : userinfo.slice(0, colon);
    const rawPassword = colon < 0 ? undefined : userinfo.slice(colon + 1);
    if (!ENCODED_USERINFO.test(rawUser) || (rawPassword !== undefined && !ENCODED_USERINFO.test(rawPassword))) {
      return unencoded;
    }
    const user = safeDecode(rawUser);
    const decoded = rawPassword === undefined ? undefined : safeDecode(rawPassword);
    if (user === undefined || (rawPassword !== undefined && decoded === undefined)) {
      return {
        ok: false,
        problem: `the user name or password in this URL (${shown}) decodes to bytes that are not UTF-8: ${HOW_TO_ENCODE}`,
      };
    }
    username = user;
    password = decoded;
    if (rawPassword !== undefined) secrets.push(...credentialForms(rawPassword, decoded as string));
  }
  const hosts = hostList === "" ? [] : hostList.split(",");
  // The WHATWG parser takes one host: check the URL with the first, and every other host alone.
  const first = `${scheme}://${userinfo === undefined ? "" : `${userinfo}@`}${hosts[0] ?? ""}${tail}`;
  if (!parses(first) || hosts.slice(1).some((host) => host === "" || !parses(`${scheme}://${host}`))) {
    // Not echoed at all: without a parse, nothing says which part is the password.
    return {
      ok: false,
      problem: `not a valid ${scheme} URL: check its hosts and ports, and percent-encode its user name and password (${HOW_TO_ENCODE})`,
    };
  }
  for (const [name, value] of new URL(first).searchParams) {
    if (SECRET_PARAMETER.test(name) && value !== "") secrets.push(...credentialForms(undefined, value));
  }
  const withoutUserinfo = `${scheme}://${hostList}${tail}`;
  return { ok: true, url: storeUrl(scheme, username, password, hosts, tail, withoutUserinfo, secrets) };
}

function storeUrl(
  scheme: string,
  username: string,
  password: string | undefined,
  hosts: readonly string[],
  tail: string,
  withoutUserinfo: string,
  secrets: readonly string[],
): StoreUrl {
  const query = tail.indexOf("?");
  const search = query < 0 ? "" : tail.slice(query).replace(/#.*$/, "");
  return {
    scheme,
    username,
    password,
    hosts,
    tail,
    searchParams: new URLSearchParams(search),
    withoutUserinfo,
    secrets: [...new Set(secrets)].filter((secret) => secret !== ""),
  };
}

/** A secret as written, decoded, and re-encoded the ways a driver may print it (`scrubSecrets` ignores case). */
function credentialForms(raw: string | undefined, decoded: string): string[] {
  return [decoded, ...(raw === undefined ? [] : [raw]), encodeURIComponent(decoded), encodeURI(decoded)];
}

/** The hosts of a URL's remainder after `//`: what follows its last "@", up to the path. */
function redactedHosts(rest: string): string {
  const host = rest.slice(rest.lastIndexOf("@") + 1);
  const end = host.search(/[/?#]/);
  return end < 0 ? host : host.slice(0, end);
}

function parses(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
