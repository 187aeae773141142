// The untimed setup of the end-to-end matching bench (bench/match-api.ts),
// all of it through the platform's HTTP API: a ledger with its bank account
// (prepareTarget, as the ingest bench makes them), the contra and write-off
// accounts, the CSV profile, the bank account's matching rules, the statement
// lines imported as one CSV, the ledger lines posted as journal entries (a
// bounded number in flight), and a wait until the read models show both
// sides whole.
import { stat } from "node:fs/promises";
import { z } from "zod";
import type { MatchingRules } from "@trueup/contracts";
import type { InternalItem } from "../../command-side/src/reconciliation/matching/types.ts";
import { upload } from "../../platform/src/cli/upload.ts";
import { importAnswerSchema } from "../../platform/src/cli/report.ts";
import { prepareTarget } from "./ingest-platform.ts";
import type { ApiClient } from "./match-api-http.ts";
import { expectSuccess, laterPosition } from "./match-api-http.ts";
import { CONTRA_ACCOUNTS, MATCH_API_CSV_PROFILE, entryIdOf, journalEntryBody } from "./match-api-books.ts";
import { waitForProjections } from "./platform-server.ts";
import { runWorkers } from "./timing.ts";

/** Postings in flight at once (the ledger bench measures 64 clients; 32 leave CPU to the server on 2 cores). */
export const POSTING_CONCURRENCY = 32;
/** A posting answered 503 (OVERLOADED, STORE_UNAVAILABLE) or 409 CONCURRENCY_CONFLICT is sent again, with the same key, this many times at most. */
const POSTING_RETRIES_MAX = 8;
const POSTING_RETRY_DELAY_MS = 100;
const COMMAND_WAIT_MS = 60_000;
/** How long the server may take to answer the import after its last byte (a 100,000-line CSV takes seconds). */
const IMPORT_ANSWER_WAIT_MS = 10 * 60_000;
/** How long the read models may take to show every line of both sides after the postings. */
const CATCH_UP_WAIT_MS = 10 * 60_000;
const CATCH_UP_POLL_MS = 250;
const PROGRESS_EVERY = 20_000;
const CSV_PROFILE_ID = "bench_match";

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};
const count = (n: number): string => n.toLocaleString("en-US");
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Target {
  readonly ledgerId: string;
  readonly bankAccountId: string;
}

/** The ledger, its accounts, the bank account, the CSV profile and the matching rules. */
export async function prepareAccount(client: ApiClient, rules: MatchingRules): Promise<Target> {
  const { ledgerId, bankAccountId } = await prepareTarget(client.baseUrl, "match_api", { withCsvProfile: false });
  for (const account of CONTRA_ACCOUNTS) {
    expectSuccess(await client.post(`/ledgers/${ledgerId}/accounts`, { ...account, currency: "EUR" }, COMMAND_WAIT_MS), `open account ${account.code}`);
  }
  expectSuccess(await client.post(`/ledgers/${ledgerId}/csv-profiles`, { profileId: CSV_PROFILE_ID, ...MATCH_API_CSV_PROFILE }, COMMAND_WAIT_MS), "save the CSV profile");
  // Continuous reconciliation off: else the import and every batch of postings would start runs of their own
  // during the setup, and the timed run would find the items matched already. The bench times one explicit run.
  const body = { expectedVersion: 0, rules: { ...rules, continuous: false } };
  const put = await client.request("PUT", `/bank-accounts/${encodeURIComponent(bankAccountId)}/matching-rules`, { body, idempotencyKey: "fresh", timeoutMs: COMMAND_WAIT_MS });
  expectSuccess(put, "PUT matching-rules");
  return { ledgerId, bankAccountId };
}

export interface Imported {
  readonly position: string;
  /** From the first byte until the answer (spool, parse, checks, appends). */
  readonly answerMs: number;
}

/** The CSV through POST /bank-accounts/{id}/statements, as the CLI uploads it. */
export async function importStatement(client: ApiClient, target: Target, file: { path: string; lines: number }): Promise<Imported> {
  const url = new URL(`/bank-accounts/${encodeURIComponent(target.bankAccountId)}/statements`, client.baseUrl);
  url.searchParams.set("format", "csv");
  url.searchParams.set("profile", CSV_PROFILE_ID);
  const sizeBytes = (await stat(file.path)).size;
  const started = performance.now();
  const answer = await upload({
    url,
    file: file.path,
    sizeBytes,
    headers: { "content-type": "application/octet-stream", "idempotency-key": "bench-match-api-import" },
    timeoutMs: IMPORT_ANSWER_WAIT_MS,
    onProgress: () => undefined,
  });
  const answerMs = performance.now() - started;
  if (answer.kind !== "answer") throw new Error(`import of ${file.path}: ${answer.reason}`);
  if (answer.status !== 201) throw new Error(`import of ${file.path}: ${answer.status} ${answer.body.slice(0, 4_000)}`);
  const body = importAnswerSchema.parse(JSON.parse(answer.body));
  if (body.newLines !== String(file.lines)) throw new Error(`the server recorded ${body.newLines} new lines of ${file.lines}`);
  const failed = body.statements.flatMap((s) => (s.checks ?? []).filter((c) => c.status === "failed").map((c) => `${s.statementId}: ${c.check}`));
  if (failed.length > 0) throw new Error(`checks failed on the generated CSV: ${failed.join(", ")}`);
  if (body.position === undefined || body.position === null) throw new Error("the import's answer has no position");
  return { position: body.position, answerMs };
}

export interface Posted {
  readonly position: string | undefined;
  readonly elapsedMs: number;
  /** Postings sent again after a retryable answer. */
  readonly retries: number;
}

const postedAnswer = z.looseObject({ position: z.string().nullable().optional() });

async function postOne(client: ApiClient, path: string, item: InternalItem): Promise<{ position: string | null | undefined; retries: number }> {
  const body = journalEntryBody(item);
  // One key per entry: a retry after a lost answer is the same command, never a second entry.
  const idempotencyKey = `bench-entry-${entryIdOf(item.id)}`;
  for (let attempt = 0; ; attempt++) {
    const answer = await client.request("POST", path, { body, idempotencyKey, timeoutMs: COMMAND_WAIT_MS });
    if (answer.status === 201) return { position: postedAnswer.parse(answer.body).position, retries: attempt };
    const retryable = answer.status === 503 || (answer.status === 409 && answer.text.includes("CONCURRENCY_CONFLICT"));
    if (!retryable || attempt >= POSTING_RETRIES_MAX) throw new Error(`POST ${path} (${item.id}, attempt ${attempt + 1}): ${answer.status} ${answer.text.slice(0, 2_000)}`);
    await sleep(POSTING_RETRY_DELAY_MS * (attempt + 1));
  }
}

/** Every ledger line as a journal entry, POSTING_CONCURRENCY in flight. */
export async function postLedgerLines(client: ApiClient, target: Target, internal: readonly InternalItem[]): Promise<Posted> {
  const path = `/ledgers/${encodeURIComponent(target.ledgerId)}/journal-entries`;
  let next = 0;
  let position: string | undefined;
  let retries = 0;
  const started = performance.now();
  await runWorkers(POSTING_CONCURRENCY, async () => {
    while (next < internal.length) {
      const item = internal[next];
      next += 1;
      if (item === undefined) break;
      const posted = await postOne(client, path, item);
      position = laterPosition(position, posted.position);
      retries += posted.retries;
      if (next % PROGRESS_EVERY === 0) log(`posted ${count(next)} of ${count(internal.length)} entries`);
    }
  });
  return { position, elapsedMs: performance.now() - started, retries };
}

const sideSummary = z.looseObject({ total: z.number(), matched: z.number(), suggested: z.number(), resolved: z.number(), unmatched: z.number() });
export const summarySchema = z.looseObject({ external: sideSummary, internal: sideSummary });
export type Summary = z.infer<typeof summarySchema>;

/**
 * Waits until every projection is caught up (GET /projections) and the
 * account's summary counts every line of both sides (the ledger side is
 * joined from the ledger read model, which `minPosition` does not wait for,
 * so the totals are what tell).
 */
export async function waitForBothSides(client: ApiClient, target: Target, expected: { external: number; internal: number; position: string | undefined }): Promise<Summary> {
  await waitForProjections(client.baseUrl, log);
  const deadline = performance.now() + CATCH_UP_WAIT_MS;
  const query = expected.position === undefined ? "" : `?minPosition=${expected.position}`;
  let last = "no answer yet";
  while (performance.now() < deadline) {
    const answer = await client.get(`/bank-accounts/${encodeURIComponent(target.bankAccountId)}/summary${query}`, COMMAND_WAIT_MS);
    if (answer.status === 200) {
      const summary = summarySchema.parse(answer.body);
      if (summary.external.total === expected.external && summary.internal.total === expected.internal) return summary;
      if (summary.external.total > expected.external || summary.internal.total > expected.internal) throw new Error(`the summary counts more lines than were sent: ${answer.text}`);
      last = `external ${summary.external.total}, internal ${summary.internal.total}`;
    } else if (answer.status !== 503) {
      throw new Error(`GET summary: ${answer.status} ${answer.text.slice(0, 2_000)}`);
    } else {
      last = `503 ${answer.text.slice(0, 200)}`;
    }
    await sleep(CATCH_UP_POLL_MS);
  }
  throw new Error(`the read models did not show ${expected.external} statement lines and ${expected.internal} ledger lines within ${CATCH_UP_WAIT_MS} ms (last: ${last})`);
}
