import { InvalidCommitError, MemoryCommitter } from "@tidemark/core";
import { MongoClient } from "mongodb";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { InvalidConfigError } from "../src/config-error.js";
import { parseDynamoDbUrl } from "../src/stores/dynamodb-store.js";
import { parseEtcdUrl } from "../src/stores/etcd-store.js";
import { mongoClientArguments } from "../src/stores/mongodb-store.js";
import { scrubSecrets, scrubText } from "../src/stores/scrub-secrets.js";
import { guardSecrets } from "../src/stores/secret-guard.js";
import type { Store } from "../src/stores/store.js";
import { checkStoreUrl, parseStoreUrl, redactUrl } from "../src/stores/store-url.js";

/** Passwords with every character a URL gives a meaning to, and some it does not allow. */
const passwords = [
  "Sup3r/S3cret",
  "Sup3r@S3cret",
  "Sup3r:S3cret",
  "Sup3r%S3cret",
  "Sup3r#S3cret",
  "Sup3r?S3cret",
  "Sup3r S3cret",
  "Sup3rüS3cret✓",
  "Sup3r/@:%ü?#S3cret",
];
/** One URL per store kind, with `USERINFO` where the credentials go. */
const shapes = [
  "etcd://USERINFO@127.0.0.1:2379",
  "etcds://USERINFO@10.0.0.1:2379,10.0.0.2:2379",
  "dynamodb://USERINFO@127.0.0.1:8000?region=us-east-1",
  "mongodb://USERINFO@db1:27017,db2:27017/tidemark?replicaSet=rs0",
  "mongodb+srv://USERINFO@cluster0.example.net/tidemark",
  "postgres://USERINFO@127.0.0.1:5432/tidemark",
  "postgresql://USERINFO@db.example.net/tidemark?sslmode=require",
];
const url = (shape: string, userinfo: string) => shape.replace("USERINFO", userinfo);

/** Every piece of `password` that would give it away: the whole, raw and encoded, and its words. */
function pieces(password: string): string[] {
  return [password, encodeURIComponent(password), ...password.split(/[^A-Za-z0-9]+/).filter((w) => w.length >= 4)];
}

function expectNoneOf(text: string, password: string): void {
  for (const piece of pieces(password))
    expect(text.toLowerCase(), `"${piece}" shows`).not.toContain(piece.toLowerCase());
}

function refusal(text: string, field = "--store"): InvalidConfigError {
  try {
    checkStoreUrl(text, field);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return error as InvalidConfigError;
  }
  throw new Error("accepted");
}

describe("redactUrl", () => {
  it.each([
    ["postgres://tide:pw@127.0.0.1:5432/db", "postgres://***@127.0.0.1:5432/db"],
    ["postgres://tide@127.0.0.1:5432/db", "postgres://***@127.0.0.1:5432/db"],
    // The two leaks of the issue: a raw "/" ended the userinfo early, and a raw "@" was taken for its end.
    ["etcd://root:Sup3r/S3cret@127.0.0.1:23795", "etcd://***@127.0.0.1:23795"],
    ["mongodb://admin:Sup3r@S3cret@db:27017/x", "mongodb://***@db:27017/x"],
    // A parser reads this one as host "root", port 12 and path "/S3cret@host".
    ["etcd://root:12/S3cret@host:2379", "etcd://***@host:2379"],
    ["postgres://u:Sup3r#S3cret@host/db", "postgres://***@host/db"],
    ["postgres://u:Sup3r?S3cret@host/db", "postgres://***@host/db"],
    ["mongodb://db1:1,db2:2/x?w=majority", "mongodb://db1:1,db2:2/x?w=majority"],
    ["postgres://host/db?user=tide&password=S3cretPw", "postgres://host/db?user=tide&password=***"],
    ["postgres:tide:S3cret@host", "postgres:***"],
    ["tide:S3cret@host", "tide:***"],
    ["S3cret@host", "***"],
    ["dynamodb:", "dynamodb:"],
    ["dynamodb:?region=eu-west-1", "dynamodb:?region=eu-west-1"],
    ["sqlite:/var/lib/tidemark@2/db.sqlite", "sqlite:/var/lib/tidemark@2/db.sqlite"],
  ])("%s → %s", (given, shown) => {
    expect(redactUrl(given)).toBe(shown);
  });

  it("hides every password of the corpus, raw or encoded, in every kind of URL", () => {
    for (const shape of shapes) {
      for (const password of passwords) {
        for (const userinfo of [`tide:${password}`, `tide:${encodeURIComponent(password)}`]) {
          const shown = redactUrl(url(shape, userinfo));
          expectNoneOf(shown, password);
          expect(shown).toContain("***@");
        }
      }
    }
  });
});

describe("checkStoreUrl", () => {
  it("accepts percent-encoded credentials and returns the URL unchanged; parseStoreUrl decodes them", () => {
    for (const shape of shapes) {
      for (const password of passwords) {
        const text = url(shape, `ti%40de:${encodeURIComponent(password)}`);
        expect(checkStoreUrl(text, "--store")).toBe(text);
        const parsed = parseStoreUrl(text);
        expect(parsed.username).toBe("ti@de");
        expect(parsed.password).toBe(password);
        expect(parsed.withoutUserinfo).toBe(url(shape, "").replace("//@", "//"));
      }
    }
  });

  it("refuses raw credentials, naming the field and how to encode, without echoing them", () => {
    for (const shape of shapes) {
      for (const password of passwords) {
        const error = refusal(url(shape, `tide:${password}`), "TIDEMARK_HISTORY");
        expect(error.field).toBe("TIDEMARK_HISTORY");
        expect(error.message).toMatch(/^TIDEMARK_HISTORY: /);
        expect(error.message).toMatch(/percent-encode/);
        expectNoneOf(error.message, password);
      }
    }
  });

  it("says how to encode, and shows the host but not the userinfo", () => {
    const error = refusal("etcd://root:Sup3r/S3cret@127.0.0.1:23795");
    expect(error.message).toContain("etcd://***@127.0.0.1:23795");
    expect(error.message).toContain("encodeURIComponent");
    expect(error.message).toContain('"@" → %40');
    expect(error.message).toContain('"/" → %2F');
    const mongo = refusal("mongodb://admin:Sup3r@S3cret@127.0.0.1:27017/x");
    expect(mongo.message).toContain("mongodb://***@127.0.0.1:27017");
    expect(mongo.message.toLowerCase()).not.toContain("s3cret");
  });

  it("refuses a user name that is not encoded, and bytes that are not UTF-8", () => {
    expectNoneOf(refusal("postgres://S3cretUser/x:pw@host/db").message, "S3cretUser");
    const error = refusal("postgres://tide:S3cret%FF@host/db");
    expect(error.message).toMatch(/not UTF-8/);
    expectNoneOf(error.message, "S3cret%FF");
  });

  it("refuses a URL that does not parse without echoing any of it", () => {
    for (const text of [
      "postgres://tide:S3cretPw@host:S3cretPort/db",
      "etcd://tide:S3cretPw@127.0.0.1:1,",
      "mongodb://tide:S3cretPw@:27017/db",
      "dynamodb://tide:S3cretPw@/?region=x",
      "etcd:tide:S3cretPw@host",
    ]) {
      const error = refusal(text);
      expect(error.message).toMatch(/not a (valid (postgres|etcd|mongodb|dynamodb)|store) URL/);
      expect(error.message.toLowerCase()).not.toContain("s3cret");
    }
  });

  it("names an unknown kind only by a word that looks like a scheme", () => {
    expect(refusal("redis://secret@db").message).toMatch(/--store: unknown store kind "redis": use sqlite:PATH/);
    const error = refusal("Sup3r@S3cret");
    expect(error.message).toMatch(/unknown store kind: /);
    expect(error.message).not.toContain("S3cret");
    expect(refusal("").message).toBe("--store: must not be empty");
  });

  it("refuses spaces and control characters anywhere", () => {
    for (const text of ["postgres://host/my db", "postgres://host/db\n", "postgres://tide:S3cret\tPw@host/db"]) {
      expect(refusal(text).message).toMatch(/must not contain spaces or control characters/);
    }
  });

  it("takes sqlite: paths and dynamodb: without an endpoint as they are", () => {
    for (const text of ["sqlite:./tidemark.db", "sqlite:/tmp/a@b:c#d.db", "dynamodb:", "dynamodb:?region=eu-west-1"]) {
      expect(checkStoreUrl(text, "--store")).toBe(text);
    }
  });
});

describe("drivers get the credentials decoded", () => {
  const password = "Sup3r@S3cret/:%ü";
  const encoded = encodeURIComponent(password);

  it("mongodb: the password is Sup3r@S3cret, and S3cret is no host", async () => {
    const issue = mongoClientArguments("mongodb://admin:Sup3r%40S3cret@127.0.0.1:27017/tidemark");
    expect(issue).toEqual({
      uri: "mongodb://127.0.0.1:27017/tidemark",
      options: { auth: { username: "admin", password: "Sup3r@S3cret" }, serverSelectionTimeoutMS: 10_000 },
      database: "tidemark",
    });
    const { uri, options } = mongoClientArguments(
      `mongodb://ad%3Amin:${encoded}@db1:1,db2:2/tide%2Dmark?authSource=admin`,
    );
    // The real driver, not connected: what it would authenticate with and where it would connect.
    const client = new MongoClient(uri, options);
    try {
      expect(client.options.credentials?.username).toBe("ad:min");
      expect(client.options.credentials?.password).toBe(password);
      expect(client.options.credentials?.source).toBe("admin");
      expect(client.options.hosts.map(String)).toEqual(["db1:1", "db2:2"]);
      expect(client.options.dbName).toBe("tide-mark");
    } finally {
      await client.close();
    }
    expect(
      mongoClientArguments("mongodb://h/x?serverSelectionTimeoutMS=1000").options.serverSelectionTimeoutMS,
    ).toBeUndefined();
  });

  it("postgres: pg reads the password the URL encodes", () => {
    const client = new pg.Client({ connectionString: `postgres://ti%40de:${encoded}@127.0.0.1:5432/db` });
    expect(client.user).toBe("ti@de");
    expect(client.password).toBe(password);
    expect(client.host).toBe("127.0.0.1");
  });

  it("etcd: user and password for etcd3's auth", () => {
    expect(parseEtcdUrl(`etcds://root:${encoded}@10.0.0.1:2379,10.0.0.2:2379/`)).toEqual({
      hosts: ["https://10.0.0.1:2379", "https://10.0.0.2:2379"],
      auth: { username: "root", password },
    });
    expect(parseEtcdUrl("etcd://127.0.0.1:2379")).toEqual({ hosts: ["http://127.0.0.1:2379"] });
    expect(() => parseEtcdUrl("etcd://root:pw@127.0.0.1:2379/prefix")).toThrow(/not an etcd URL: "etcd:\/\/\*\*\*@/);
  });

  it("dynamodb: an access key pair for the SDK", () => {
    expect(parseDynamoDbUrl(`dynamodb://AKIDEXAMPLE:${encoded}@127.0.0.1:8000?region=us-east-1`)).toMatchObject({
      endpoint: "http://127.0.0.1:8000",
      region: "us-east-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: password },
    });
    expect(parseDynamoDbUrl("dynamodb:?region=us-east-1").credentials).toBeUndefined();
  });
});

describe("scrubbing driver errors", () => {
  const secrets = parseStoreUrl("mongodb://admin:Sup3r%40S3cret@db/x").secrets;

  it("removes the password, raw or encoded, in any case, from a real driver error and its stack", () => {
    let error: Error | undefined;
    try {
      // The driver quotes the whole connection string when the host list is empty.
      new MongoClient("mongodb://admin:Sup3r%40S3cret@/x");
    } catch (thrown) {
      error = thrown as Error;
    }
    expect(error?.message).toContain("Sup3r%40S3cret");
    const scrubbed = scrubSecrets(error, secrets) as Error;
    expect(scrubbed).toBe(error);
    expect(scrubbed.message).toBe('Protocol and host list are required in "mongodb://admin:***@/x"');
    expect(scrubbed.stack).not.toMatch(/S3cret/i);
    expect(scrubText("at sup3r@s3cret and SUP3R%40S3CRET", secrets)).toBe("at *** and ***");
  });

  it("scrubs causes and properties, and copies an error it cannot change", () => {
    const cause = Object.assign(new Error("login with Sup3r@S3cret"), { input: "mongodb://a:Sup3r%40S3cret@db" });
    const frozen = Object.freeze(new TypeError("bad Sup3r@S3cret", { cause }));
    const scrubbed = scrubSecrets(frozen, secrets);
    expect(scrubbed).not.toBe(frozen);
    expect(scrubbed).toBeInstanceOf(TypeError);
    expect(scrubbed.message).toBe("bad ***");
    expect((scrubbed.cause as Error).message).toBe("login with ***");
    expect((scrubbed.cause as { input: string }).input).toBe("mongodb://a:***@db");
    const clean = new Error("nothing to hide");
    expect(scrubSecrets(clean, secrets)).toBe(clean);
  });

  it("a guarded store's committer rejects with its own error class, scrubbed", async () => {
    const committer = new MemoryCommitter();
    const store: Store = { label: "memory", committer, createLock: () => unused(), close: () => committer.close() };
    const guarded = guardSecrets(store, secrets);
    const pointer = new Uint8Array([1, 2]);
    await guarded.committer.commit("ingestor-Sup3r@S3cret", null, pointer);
    const failure = await guarded.committer.commit("ingestor-Sup3r@S3cret", null, pointer).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(InvalidCommitError);
    expect((failure as Error).message).toContain("ingestor-***");
    expect((failure as Error).message).not.toMatch(/S3cret/i);
    expect(await guarded.committer.latest("ingestor-Sup3r@S3cret")).toEqual(pointer);
    await guarded.close();
  });
});

function unused(): never {
  throw new Error("not used");
}
