// `trueup import`: streams a statement file to a running server and prints
// what it recorded. The Idempotency-Key is derived from the file's SHA-256,
// the target and the options, so running the same import again (after a
// timeout, a crash of the CLI, or by mistake) is answered from the server's
// record of the first run, never a second import. Retries reuse that key,
// so they are safe too; they are bounded (--retries) and only for answers
// that mean "try again": 503/502/504, 409 CONCURRENCY_CONFLICT, a refused
// or cut connection.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type { ImportArgs } from "./args.ts";
import { progressReporter } from "./progress.ts";
import type { ProgressSink } from "./progress.ts";
import { formatProblem, formatSummary, importAnswerSchema, problemSchema } from "./report.ts";
import { upload } from "./upload.ts";

export const EXIT = { imported: 0, rejected: 1, usage: 2, unavailable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** First retry after this long, doubling each time up to BACKOFF_MAX_MS. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 8_000;
/** A server's Retry-After is followed up to this bound (a misconfigured one must not park the CLI for hours). */
const RETRY_AFTER_MAX_MS = 30_000;
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

export interface CliIo {
  readonly stdout: ProgressSink;
  readonly stderr: ProgressSink;
  readonly sleep?: (ms: number) => Promise<void>;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The same file, target and options always give the same key; any difference gives another (the server would call a reused key with another request a conflict). */
export function derivedKey(args: ImportArgs, fileSha256: string): string {
  const identity = JSON.stringify([args.target.kind, args.target.id, fileSha256, args.format ?? null, args.profile ?? null, args.encoding ?? null, args.acceptFailedChecks]);
  return `cli-import-${createHash("sha256").update(identity).digest("hex").slice(0, 48)}`;
}

export function importUrl(args: ImportArgs): URL {
  const base = new URL(args.server);
  if (!base.pathname.endsWith("/")) base.pathname = `${base.pathname}/`;
  const route = args.target.kind === "bank-account" ? "bank-accounts" : "ledgers";
  const url = new URL(`${route}/${encodeURIComponent(args.target.id)}/statements`, base);
  if (args.format !== undefined) url.searchParams.set("format", args.format);
  if (args.profile !== undefined) url.searchParams.set("profile", args.profile);
  if (args.encoding !== undefined) url.searchParams.set("encoding", args.encoding);
  if (args.acceptFailedChecks) url.searchParams.set("acceptFailedChecks", "true");
  return url;
}

function retryDelayMs(attempt: number, retryAfter: string | string[] | undefined): number {
  const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  const seconds = typeof retryAfter === "string" && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  return seconds === undefined ? backoff : Math.min(RETRY_AFTER_MAX_MS, Math.max(seconds * 1000, BACKOFF_FIRST_MS));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export async function runImport(args: ImportArgs, io: CliIo): Promise<ExitCode> {
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const size = await stat(args.file).then((s) => (s.isFile() ? s.size : undefined), () => undefined);
  if (size === undefined) {
    io.stderr.write(`trueup import: ${args.file}: no such file (or not a regular file)\n`);
    return EXIT.usage;
  }
  const key = args.idempotencyKey ?? derivedKey(args, await sha256Of(args.file));
  const url = importUrl(args);
  const headers = { "content-type": "application/octet-stream", accept: "application/json, application/problem+json", "idempotency-key": key };
  const attempts = args.retries + 1;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const progress = progressReporter({ sink: io.stderr, totalBytes: size, label: basename(args.file) });
    const onProgress = (sent: number): void => {
      progress.update(sent);
      // The last byte is sent; the server parses, checks and records before it answers (seconds for a large file).
      if (sent === size) progress.finish("uploaded; the server is checking and recording it…");
    };
    const outcome = await upload({ url, file: args.file, sizeBytes: size, headers, timeoutMs: args.timeoutMs, onProgress });
    if (outcome.kind === "unreadable") {
      io.stderr.write(`trueup import: ${args.file}: could not be read: ${outcome.reason}\n`);
      return EXIT.usage;
    }
    let why: string;
    let retryAfter: string | string[] | undefined;
    if (outcome.kind === "unreachable") {
      why = `server ${args.server.origin} unreachable (${outcome.reason})`;
    } else {
      const body = parseJson(outcome.body);
      if (outcome.status >= 200 && outcome.status < 300) return accepted(io, body, outcome.headers["idempotent-replayed"] === "true");
      const problem = problemSchema.safeParse(body);
      const busy = outcome.status === 409 && problem.success && problem.data.code === "CONCURRENCY_CONFLICT";
      if (!RETRYABLE_STATUSES.has(outcome.status) && !busy) {
        io.stderr.write(problem.success ? formatProblem(problem.data) : `rejected (${outcome.status}): ${outcome.body.slice(0, 2_000)}\n`);
        return EXIT.rejected;
      }
      why = `server answered ${outcome.status}${problem.success ? ` ${problem.data.code}: ${problem.data.detail ?? ""}` : ""}`;
      retryAfter = outcome.headers["retry-after"];
    }
    if (attempt + 1 >= attempts) {
      io.stderr.write(`trueup import: ${why}; gave up after ${attempts} attempt${attempts === 1 ? "" : "s"} (--retries ${args.retries}). Nothing was lost: run the same command again to resume with the same key.\n`);
      return EXIT.unavailable;
    }
    const delayMs = retryDelayMs(attempt, retryAfter);
    io.stderr.write(`trueup import: ${why}; retry ${attempt + 1} of ${args.retries} in ${(delayMs / 1000).toFixed(1)} s with the same Idempotency-Key\n`);
    await sleep(delayMs);
  }
  return EXIT.unavailable;
}

function accepted(io: CliIo, body: unknown, replayedHeader: boolean): ExitCode {
  const answer = importAnswerSchema.safeParse(body);
  if (!answer.success) {
    io.stderr.write("trueup import: imported, but the answer has an unexpected shape; here it is as sent:\n");
    io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return EXIT.imported;
  }
  io.stdout.write(formatSummary(answer.data, replayedHeader || answer.data.replayed === true));
  return EXIT.imported;
}
