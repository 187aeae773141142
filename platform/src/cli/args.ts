// The command line of `npm run trueup -- import <file> …`, parsed with
// node:util parseArgs (strict: an unknown option or a missing value is a
// usage error, exit code 2, never a guess).
import { parseArgs } from "node:util";
import { STATEMENT_FORMATS } from "@trueup/contracts";
import type { StatementFormat } from "@trueup/contracts";
import { configSchema } from "../config.ts";

/** Retries after a 503, a 409 CONCURRENCY_CONFLICT or a refused/reset connection, by default. */
export const RETRIES_DEFAULT = 5;
/** The most retries a caller may ask for: a bound, so a dead server ends the CLI in minutes, not never. */
export const RETRIES_MAX = 20;
/** How long the CLI waits for the answer after the upload, by default (the server checks and records after the last byte). */
export const TIMEOUT_SECONDS_DEFAULT = 600;
export const TIMEOUT_SECONDS_MAX = 3_600;
/** The server's Idempotency-Key bound (command-side/src/idempotency.ts): visible ASCII, 1..200. */
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;
const ID_LENGTH_MAX = 200;
/** What the server decodes on request (?encoding=, command-side import/decode.ts). */
const ENCODINGS = ["utf-8", "iso-8859-1", "windows-1252", "utf-16le", "utf-16be"] as const;

export const USAGE = `usage: npm run trueup -- import <file> (--bank-account <id> | --ledger <id>) [options]

Imports a bank or PSP statement file (camt.052/053/054, MT940/MT942, BAI2,
OFX, CSV) into Trueup through a running server. The file is streamed, never
read whole; re-running the same import is a replay, never a duplicate.

  --bank-account <id>      import into this bank account
  --ledger <id>            route each account section of the file (BAI2,
                           camt with several Stmt, OFX) to the ledger's
                           bank account with that IBAN / account number
  --server <url>           default: $TRUEUP_URL, else http://localhost:$PORT (3000)
  --format <format>        ${STATEMENT_FORMATS.join(", ")} (default: detected)
  --profile <id>           CSV mapping profile (required for CSV; "stripe" is built in)
  --encoding <encoding>    ${ENCODINGS.join(", ")} (default: detected)
  --accept-failed-checks   record a statement whose checks fail instead of rejecting it
  --idempotency-key <key>  default: derived from the file's SHA-256, the target and
                           the options above, so the same import twice is one import
  --retries <n>            retries when the server is unavailable (503, connection
                           refused) or busy (409 CONCURRENCY_CONFLICT), with backoff
                           and the same key: default ${RETRIES_DEFAULT}, at most ${RETRIES_MAX}
  --timeout <seconds>      how long to wait for the answer after the upload
                           (default ${TIMEOUT_SECONDS_DEFAULT}, at most ${TIMEOUT_SECONDS_MAX})
  -h, --help               this text

Exit codes: 0 imported (or replayed), 1 rejected by the server (a 4xx
problem, printed with its code and location), 2 usage error, 3 server
unavailable after the retries.
`;

export type Target = { readonly kind: "bank-account"; readonly id: string } | { readonly kind: "ledger"; readonly id: string };

export interface ImportArgs {
  readonly command: "import";
  readonly file: string;
  readonly target: Target;
  readonly server: URL;
  readonly format: StatementFormat | undefined;
  readonly profile: string | undefined;
  readonly encoding: (typeof ENCODINGS)[number] | undefined;
  readonly acceptFailedChecks: boolean;
  readonly idempotencyKey: string | undefined;
  readonly retries: number;
  readonly timeoutMs: number;
}

export type ParsedCommandLine = ImportArgs | { readonly command: "help" };

/** A mistake on the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The server when --server is not given: TRUEUP_URL, else this machine on the configured PORT. */
export function defaultServer(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.TRUEUP_URL?.trim();
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const port = configSchema.shape.PORT.safeParse(env.PORT === "" ? undefined : env.PORT);
  return `http://localhost:${port.success ? port.data : 3000}`;
}

function serverUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--server: not a URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--server: must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  return url;
}

function wholeNumber(name: string, text: string | undefined, fallback: number, range: { min: number; max: number }): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < range.min || Number(text) > range.max) {
    throw new UsageError(`--${name}: must be a whole number from ${range.min} to ${range.max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function id(name: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text.length === 0 || text.length > ID_LENGTH_MAX) throw new UsageError(`--${name}: must be 1-${ID_LENGTH_MAX} characters`);
  return text;
}

function oneOf<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  const found = allowed.find((a) => a === text.toLowerCase());
  if (found === undefined) throw new UsageError(`--${name}: must be one of ${allowed.join(", ")}, got ${JSON.stringify(text)}`);
  return found;
}

export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        "bank-account": { type: "string" },
        ledger: { type: "string" },
        server: { type: "string" },
        format: { type: "string" },
        profile: { type: "string" },
        encoding: { type: "string" },
        "accept-failed-checks": { type: "boolean" },
        "idempotency-key": { type: "string" },
        retries: { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { command: "help" };
  const [command, file, ...extra] = positionals;
  if (command === undefined) throw new UsageError("a command is required (import)");
  if (command !== "import") throw new UsageError(`unknown command ${JSON.stringify(command)} (import)`);
  if (file === undefined) throw new UsageError("import: the file to import is required");
  if (extra.length > 0) throw new UsageError(`import: one file at a time; unexpected ${JSON.stringify(extra[0])}`);
  const bankAccount = id("bank-account", values["bank-account"]);
  const ledger = id("ledger", values.ledger);
  if ((bankAccount === undefined) === (ledger === undefined)) throw new UsageError("import: give exactly one of --bank-account <id> and --ledger <id>");
  const key = values["idempotency-key"];
  if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key)) throw new UsageError("--idempotency-key: must be 1-200 visible ASCII characters");
  return {
    command: "import",
    file,
    target: bankAccount === undefined ? { kind: "ledger", id: ledger ?? "" } : { kind: "bank-account", id: bankAccount },
    server: serverUrl(values.server ?? defaultServer(env)),
    format: oneOf("format", values.format, STATEMENT_FORMATS),
    profile: id("profile", values.profile),
    encoding: oneOf("encoding", values.encoding, ENCODINGS),
    acceptFailedChecks: values["accept-failed-checks"] === true,
    idempotencyKey: key,
    retries: wholeNumber("retries", values.retries, RETRIES_DEFAULT, { min: 0, max: RETRIES_MAX }),
    timeoutMs: wholeNumber("timeout", values.timeout, TIMEOUT_SECONDS_DEFAULT, { min: 1, max: TIMEOUT_SECONDS_MAX }) * 1000,
  };
}
