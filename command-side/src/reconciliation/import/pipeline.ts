// The statement import (design9.md, "The import"): a spooled file in, its
// statements recorded on their bank accounts, or a problem and nothing
// written. The steps and why they are in this order:
//   1. the target: the bank account (per-account route) or the ledger's
//      listing (multi-account route), read from the log;
//   2. encoding, format (and the CSV profile), from the file's head;
//   3. pass 1 (scan.ts): the whole file parsed and every line validated, so
//      a bad line anywhere rejects the file before anything is written; the
//      lines as they will be recorded go to a line spool beside the file;
//   4. every section routed to its bank account and decided (decide()):
//      which lines are already known, whether it is a re-import, and its
//      statement checks; one failed check rejects the whole file (unless
//      acceptFailedChecks) — still nothing written;
//   5. pass 2 (write()): per section, its new lines (read back from the
//      line spool, the known ones skipped) appended in batches to
//      `statement-<statementId>`, then its StatementImported to the bank
//      account's stream at the revision step 4 read. That append is the
//      commit point: until it lands nothing is visible (readers ignore a
//      statement stream no StatementImported names), so a crash or an
//      outage anywhere before it leaves nothing, and a retry with the same
//      Idempotency-Key writes the same batches (same event ids and data:
//      the store answers them as replays) and commits. The sections'
//      commits land in file order, each after the one before it, while the
//      next section's lines are already being read and appended
//      (CommitChain); the first failure stops the chain.
// Concurrency: two imports to one account (two keys, the same file or
// overlapping statements) both pass step 4 against the same revision; the
// expected revision of the commit lets one through and the other fails with
// WrongExpectedRevision, re-reads the account and decides again: now the
// winner's lines are known (the same file: a re-import, nothing written;
// an overlap: only its remaining lines). Its batches already written stay in
// a statement stream no StatementImported will name, invisible. Because such
// a stream may hold batches of a decision that is no longer ours, a section
// writes to a stream only when the stream holds nothing or exactly the
// batches it is writing (the store's replay check, below); otherwise it moves
// to the section's next statement id: uuid(commandId, section, n), n = 0 first.
import { TrueupError, reconciliationEventSchemas, reconciliationSchemaVersion, statementStream, bankAccountStream, formatDigits, statementCurrencyOf } from "@trueup/contracts";
import type { BalanceData, CheckResult, CsvProfile, EventId, ParsedBalance, StatementFormat } from "@trueup/contracts";
import type { EventStore, NewEvent } from "@trueup/event-store";
import { DuplicateEventIdError, SerializedJson, StreamNotFoundError, WrongExpectedRevisionError } from "@trueup/event-store";
import { STATEMENT_LINES_PER_EVENT_MAX } from "@trueup/contracts";
import type { CommandContext } from "../../command.ts";
import { envelopeOf } from "../../command.ts";
import { deterministicUuid } from "../../ids.ts";
import { detectFormat, importerFor } from "../importers/index.ts";
import type { ImportLimits } from "../importers/types.ts";
import { statementError } from "../importers/shared.ts";
import { checkFailure, checkStatement } from "../checks.ts";
import { previousStatement, readBankAccount, readLedgerBankAccounts, routeAccount, statementSummaryOf } from "../bank-accounts/index.ts";
import type { BankAccountState, StatementSummary } from "../bank-accounts/index.ts";
import { batchEventId, importedEventId, readImported, readLineIds } from "./account.ts";
import type { ImportedData } from "./account.ts";
import { chooseEncoding } from "./decode.ts";
import type { EncodingChoice, RequestableEncoding } from "./decode.ts";
import { fileText, scanFile } from "./scan.ts";
import type { CurrencyTotals, FileScan, SectionScan } from "./scan.ts";
import type { SpooledFile } from "./spool.ts";

export interface ImportPipelineLimits extends ImportLimits {
  /** Re-decisions after a concurrent import moved the account (or a stream held another decision's batches); beyond: 409 CONCURRENCY_CONFLICT, retryable. */
  readonly conflictRetriesMax: number;
  /** Statement ids tried per section (see the top of this file); beyond: 409 CONCURRENCY_CONFLICT. */
  readonly statementIdsMax: number;
}

export const IMPORT_PIPELINE_LIMITS: ImportPipelineLimits = {
  linesMax: 1_000_000,
  lineLengthMax: 16_384,
  conflictRetriesMax: 8,
  statementIdsMax: 8,
};

export type ImportTarget = { readonly kind: "bankAccount"; readonly bankAccountId: string } | { readonly kind: "ledger"; readonly ledgerId: string };

export interface ImportRequest {
  readonly target: ImportTarget;
  readonly file: SpooledFile;
  readonly format?: StatementFormat | undefined;
  readonly profile?: string | undefined;
  readonly encoding?: RequestableEncoding | undefined;
  readonly acceptFailedChecks: boolean;
  readonly fileName: string | null;
}

export interface ImportDeps {
  readonly store: EventStore;
  readonly limits: ImportPipelineLimits;
  /** The CSV mapping `profileId` of the ledger (saved, or built in), or undefined. */
  readonly csvProfile: (ledgerId: string, profileId: string) => Promise<CsvProfile | undefined>;
}

export interface TotalsJson {
  readonly currency: string;
  readonly credits: { readonly count: number; readonly amount: string };
  readonly debits: { readonly count: number; readonly amount: string };
}

export interface StatementAnswer {
  readonly statementId: string;
  readonly bankAccountId: string;
  readonly section: number;
  readonly lineCount: number;
  readonly newLines: number;
  readonly knownLines: number;
  readonly totals: readonly TotalsJson[];
  readonly checks: readonly CheckResult[];
  /** The same file's statement was imported before: nothing was written for it. */
  readonly reimport: boolean;
}

export interface ImportAnswer {
  readonly statementIds: readonly string[];
  readonly format: StatementFormat;
  readonly lineCount: number;
  readonly newLines: number;
  readonly knownLines: number;
  readonly totals: readonly TotalsJson[];
  readonly checks: readonly (CheckResult & { readonly statementId: string; readonly section: number })[];
  readonly statements: readonly StatementAnswer[];
  /** Bank account stream revision and log position of the last statement recorded (or found, on a re-import). */
  readonly revision: bigint | undefined;
  readonly position: string | undefined;
  /** Nothing was written because this command's statements are in the log already (a retry after its answer was lost). */
  readonly replayed: boolean;
}

// ---------------------------------------------------------------------------

/** Runs an import: see the top of this file. Throws TrueupError for every refusal; nothing is written then. */
export async function importStatements(deps: ImportDeps, ctx: CommandContext, request: ImportRequest): Promise<ImportAnswer> {
  const target = await resolveTarget(deps.store, request.target);
  const profile = request.profile === undefined ? undefined : await loadProfile(deps, target.ledgerId, request.profile);
  const encoding = chooseEncoding(request.file.head, { requested: request.encoding, profile: profile?.encoding, wholeFile: request.file.head.length === request.file.bytes });
  const format = chooseFormat(request, encoding, profile);
  const importer = importerFor(format);
  if (importer === undefined) throw new TrueupError("STATEMENT_FORMAT_UNKNOWN", `this build has no importer for ${format}`, { in: "querystring", path: ["format"] });
  const options = { limits: { linesMax: deps.limits.linesMax, lineLengthMax: deps.limits.lineLengthMax }, csvProfile: profile, format };
  const scan = await scanFile(importer, fileText(request.file.path, encoding), { ...options, spoolPath: `${request.file.path}.lines` });
  try {
    const routed = routeSections(scan, target);
    const job: Job = { deps, ctx, request, encoding, scan, routed, ledgerId: target.ledgerId, first: target.account, known: new Map(), attempt: new Map() };
    return await run(job, format);
  } finally {
    await scan.lines.remove();
  }
}

interface Target {
  readonly ledgerId: string;
  /** The per-account route's account (read once here, reused by the first decision); every section goes to it. */
  readonly account: BankAccountState | undefined;
  /** The ledger's routing table: normalised identifier → bank account. */
  readonly table: ReadonlyMap<string, string>;
}

async function resolveTarget(store: EventStore, target: ImportTarget): Promise<Target> {
  if (target.kind === "ledger") return { ledgerId: target.ledgerId, account: undefined, table: await readLedgerBankAccounts(store, target.ledgerId) };
  // Undefined too when registered but not listed (a registration cut short): not an active account.
  const account = await readBankAccount(store, target.bankAccountId);
  if (account === undefined) throw new TrueupError("BANK_ACCOUNT_NOT_FOUND", `no bank account ${target.bankAccountId}`, { in: "params", path: ["bankAccountId"] });
  return { ledgerId: account.ledgerId, account, table: new Map() };
}

async function loadProfile(deps: ImportDeps, ledgerId: string, profileId: string): Promise<CsvProfile> {
  const profile = await deps.csvProfile(ledgerId, profileId);
  if (profile === undefined) throw new TrueupError("CSV_PROFILE_NOT_FOUND", `no CSV profile ${profileId} in ledger ${ledgerId}`, { in: "querystring", path: ["profile"] });
  return profile;
}

function chooseFormat(request: ImportRequest, encoding: EncodingChoice, profile: CsvProfile | undefined): StatementFormat {
  const format = request.format ?? (profile === undefined ? detectFormat(headText(request.file.head, encoding)) : "csv");
  if (format === undefined) {
    throw new TrueupError("STATEMENT_FORMAT_UNKNOWN", "the file is not in a format Trueup recognises (camt.052/053/054, MT940/MT942, BAI2, OFX); for CSV pass ?profile=, or name the format with ?format=");
  }
  if (format === "csv" && profile === undefined) throw new TrueupError("CSV_PROFILE_REQUIRED", "a CSV file needs its mapping: pass ?profile=", { in: "querystring", path: ["profile"] });
  return format;
}

/** The head's text for detection: decoded leniently (a character cut at the head's end is no fault). */
function headText(head: Buffer, encoding: EncodingChoice): string {
  return new TextDecoder(encoding.decoder).decode(head, { stream: true });
}

/**
 * Each section's bank account: the route's, or the one the ledger lists for
 * the identifier the section names. All sections are routed before anything
 * is decided, so one unknown account rejects the file with nothing written.
 */
function routeSections(scan: FileScan, target: Target): string[] {
  return scan.sections.map(({ statement }) => {
    if (target.account !== undefined) return target.account.bankAccountId;
    const found = routeAccount(target.table, statement.account);
    if (found !== undefined) return found;
    const { iban, accountNumber, location } = statement.account;
    const named = [iban === null ? undefined : `IBAN ${iban}`, accountNumber === null ? undefined : `account number ${accountNumber}`].filter((n) => n !== undefined);
    const what = named.length === 0 ? "names no account (import it to its bank account: POST /bank-accounts/{bankAccountId}/statements)" : `names ${named.join(" and ")}, no bank account of ledger ${target.ledgerId}`;
    throw statementError("STATEMENT_ACCOUNT_UNKNOWN", `statement ${statement.section + 1} of the file ${what}`, location, { section: statement.section, iban, accountNumber });
  });
}

// ---------------------------------------------------------------------------
// Deciding

interface Job {
  readonly deps: ImportDeps;
  readonly ctx: CommandContext;
  readonly request: ImportRequest;
  readonly encoding: EncodingChoice;
  readonly scan: FileScan;
  /** Bank account of each section. */
  readonly routed: readonly string[];
  readonly ledgerId: string;
  /** The per-account route's account as read at the start: the first decision's state. */
  first: BankAccountState | undefined;
  /** Line ids of committed statements, by statement id (they never change once committed). */
  readonly known: Map<string, ReadonlySet<string>>;
  /** Per section: the index of the statement id it writes to (see the top of this file). */
  readonly attempt: Map<number, number>;
}

type Stored = NonNullable<Awaited<ReturnType<typeof readImported>>>;

/** What a section comes to. */
type Plan =
  /** This command committed it already (a retry, or a concurrent request with the same key). */
  | { readonly kind: "ours"; readonly scan: SectionScan; readonly stored: Stored }
  /** The same file's section is recorded already and all its lines are known: nothing to write. */
  | { readonly kind: "reimport"; readonly scan: SectionScan; readonly stored: Stored }
  | {
      readonly kind: "new";
      readonly scan: SectionScan;
      readonly statementId: string;
      readonly known: ReadonlySet<string>;
      readonly newLines: number;
      readonly checks: readonly CheckResult[];
      readonly data: ImportedData;
      /** The bank account stream's revision this decision read (plus this file's earlier commits to it): the commit's expected revision. */
      readonly expectedRevision: bigint;
    };

type NewPlan = Extract<Plan, { kind: "new" }>;

export function statementIdOf(commandId: string, section: number, attempt: number): string {
  return attempt === 0 ? deterministicUuid(`${commandId}:${section}`) : deterministicUuid(`${commandId}:${section}`, String(attempt));
}

interface Period {
  readonly periodStart: string | null;
  readonly periodEnd: string | null;
}

/**
 * A period as a range, its bounds in order: a file may state them the wrong
 * way round (an MT940 closing dated before its opening), and its re-import
 * must still be found.
 */
function ordered(period: Period): Period {
  const { periodStart, periodEnd } = period;
  return periodStart !== null && periodEnd !== null && periodStart > periodEnd ? { periodStart: periodEnd, periodEnd: periodStart } : period;
}

/** Periods overlap, an unknown bound counting as open (so such a statement is always compared). */
function overlaps(first: Period, second: Period): boolean {
  const a = ordered(first);
  const b = ordered(second);
  const startsBeforeEnd = a.periodStart === null || b.periodEnd === null || a.periodStart <= b.periodEnd;
  const endsAfterStart = a.periodEnd === null || b.periodStart === null || a.periodEnd >= b.periodStart;
  return startsBeforeEnd && endsAfterStart;
}

/**
 * The account's statements as this file's later sections see them: the
 * recorded ones, then this file's earlier sections to the same account
 * (planned, not yet committed: their new line ids are kept beside).
 */
interface AccountView {
  readonly account: BankAccountState;
  readonly statements: StatementSummary[];
  readonly planned: Map<string, ReadonlySet<string>>;
  nextRevision: bigint;
}

/** Decides every section, reading each account's stream once. Throws the first failed check (unless accepted): nothing is written then. */
async function decide(job: Job): Promise<Plan[]> {
  const views = new Map<string, AccountView>();
  for (const bankAccountId of new Set(job.routed)) {
    const account = job.first?.bankAccountId === bankAccountId ? job.first : await readBankAccount(job.deps.store, bankAccountId);
    if (account === undefined) throw new TrueupError("BANK_ACCOUNT_NOT_FOUND", `no bank account ${bankAccountId}`);
    views.set(bankAccountId, { account, statements: [...account.statements], planned: new Map(), nextRevision: account.revision });
  }
  // Read once: a re-decision reads the account again.
  job.first = undefined;
  const plans: Plan[] = [];
  let failure: TrueupError | undefined;
  for (const [i, scan] of job.scan.sections.entries()) {
    const view = views.get(job.routed[i] ?? "");
    if (view === undefined) throw new Error(`section ${i} has no bank account`);
    const plan = await decideSection(job, scan, view);
    plans.push(plan);
    if (plan.kind !== "new") continue;
    view.statements.push(statementSummaryOf(plan.data, plan.expectedRevision + 1n));
    view.planned.set(plan.statementId, newIdsOf(plan));
    view.nextRevision += 1n;
    failure ??= checkFailure(plan.checks, { acceptFailedChecks: job.request.acceptFailedChecks, section: scan.section });
  }
  if (failure !== undefined) throw failure;
  return plans;
}


function newIdsOf(plan: NewPlan): Set<string> {
  const ids = new Set<string>();
  for (const id of plan.scan.ids) if (!plan.known.has(id)) ids.add(id);
  return ids;
}

async function storedOf(job: Job, statementId: string): Promise<Stored> {
  const stored = await readImported(job.deps.store, statementId);
  // The account's stream names it, so its event is in the log: anything else is a broken invariant.
  if (stored === undefined) throw new Error(`statement ${statementId} is on its account but its StatementImported is not in the log`);
  return stored;
}

/** The ids of `scan` that statements of the account overlapping it recorded already (or this file's earlier sections will). */
async function knownIds(job: Job, scan: SectionScan, view: AccountView): Promise<Set<string>> {
  const known = new Set<string>();
  for (const other of view.statements) {
    if (!overlaps(other, scan.statement)) continue;
    let ids = view.planned.get(other.statementId) ?? job.known.get(other.statementId);
    if (ids === undefined) {
      const read = new Set<string>();
      await readLineIds(job.deps.store, other.statementId, other.batches, read);
      ids = read;
      job.known.set(other.statementId, ids);
    }
    for (const id of ids) if (scan.ids.has(id)) known.add(id);
  }
  return known;
}

async function decideSection(job: Job, scan: SectionScan, view: AccountView): Promise<Plan> {
  const { statement } = scan;
  const { account } = view;
  const candidates = new Set(Array.from({ length: job.deps.limits.statementIdsMax }, (_, n) => statementIdOf(job.ctx.commandId, scan.section, n)));
  const ours = account.statements.find((s) => candidates.has(s.statementId));
  if (ours !== undefined) return { kind: "ours", scan, stored: await storedOf(job, ours.statementId) };
  const known = await knownIds(job, scan, view);
  const newLines = scan.ids.size - known.size;
  if (newLines === 0) {
    const same = account.statements.find((s) => s.fileSha256 === job.request.file.sha256 && s.section === scan.section);
    if (same !== undefined) return { kind: "reimport", scan, stored: await storedOf(job, same.statementId) };
  }
  const previous = previousStatement(view.statements, { fileSha256: job.request.file.sha256, section: scan.section }) ?? null;
  const checks = checkStatement({
    statement,
    tally: scan.tally,
    bankAccount: { currency: account.currency, iban: account.iban, accountNumber: account.accountNumber },
    previous,
    fileControlTotals: job.scan.fileControlTotals,
  });
  const failed = checks.some((c) => c.status === "failed");
  const statementId = statementIdOf(job.ctx.commandId, scan.section, job.attempt.get(scan.section) ?? 0);
  const batches = Math.ceil(newLines / STATEMENT_LINES_PER_EVENT_MAX);
  const data = importedData(job, { scan, statementId, bankAccountId: account.bankAccountId, newLines, batches, checks, accepted: failed && job.request.acceptFailedChecks });
  return { kind: "new", scan, statementId, known, newLines, checks, data, expectedRevision: view.nextRevision };
}

function balanceData(balance: ParsedBalance | null): BalanceData | null {
  return balance === null ? null : { amountMinor: balance.amountMinor.toString(), side: balance.side, currency: balance.currency, date: balance.date };
}

function importedData(
  job: Job,
  input: { scan: SectionScan; statementId: string; bankAccountId: string; newLines: number; batches: number; checks: readonly CheckResult[]; accepted: boolean },
): ImportedData {
  const { statement } = input.scan;
  let creditsMinor = 0n;
  let debitsMinor = 0n;
  let credits = 0;
  let debits = 0;
  for (const t of input.scan.totals.values()) {
    creditsMinor += t.creditsMinor;
    debitsMinor += t.debitsMinor;
    credits += t.credits;
    debits += t.debits;
  }
  const candidate = {
    statementId: input.statementId,
    bankAccountId: input.bankAccountId,
    ledgerId: job.ledgerId,
    format: statement.format,
    source: { fileSha256: job.request.file.sha256, fileBytes: job.request.file.bytes, fileName: job.request.fileName, encoding: job.encoding.name, section: statement.section },
    account: { iban: statement.account.iban, accountNumber: statement.account.accountNumber, bankId: statement.account.bankId },
    currency: statement.currency,
    statementReference: statement.statementReference,
    sequenceNumber: statement.sequenceNumber,
    pageNumber: statement.pageNumber,
    createdAt: statement.createdAt,
    periodStart: statement.periodStart,
    periodEnd: statement.periodEnd,
    openingBalance: balanceData(statement.openingBalance),
    closingBalance: balanceData(statement.closingBalance),
    availableBalance: balanceData(statement.availableBalance),
    lineCount: input.scan.ids.size,
    newLines: input.newLines,
    knownLines: input.scan.ids.size - input.newLines,
    batches: input.batches,
    totals: { creditsMinor: creditsMinor.toString(), debitsMinor: debitsMinor.toString(), credits, debits },
    checks: [...input.checks],
    acceptedWithFailedChecks: input.accepted,
  };
  // The header must fit every store as the lines do: a reference too long is the file's fault, at the statement.
  const parsed = reconciliationEventSchemas.StatementImported.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined ? "a field" : issue.path.map(String).join(".");
    throw statementError("STATEMENT_MALFORMED", `the statement's ${field} cannot be recorded: ${issue?.message ?? "invalid"}`, statement.location, { field });
  }
  return parsed.data;
}

// ---------------------------------------------------------------------------
// Writing

/** Why a write must decide again: the account moved, or a statement stream held another decision's batches. */
class Redecide extends Error {
  override readonly name = "Redecide";
}

async function run(job: Job, format: StatementFormat): Promise<ImportAnswer> {
  for (let attempt = 0; ; attempt++) {
    const plans = await decide(job);
    try {
      const committed = await write(job, plans);
      return answerOf(job, format, plans, committed);
    } catch (error) {
      if (!(error instanceof Redecide)) throw error;
      if (attempt >= job.deps.limits.conflictRetriesMax) {
        throw new TrueupError("CONCURRENCY_CONFLICT", `the bank account kept changing while the file was imported; gave up after ${job.deps.limits.conflictRetriesMax} retries (retry with the same Idempotency-Key)`);
      }
    }
  }
}

interface Committed {
  readonly revision: bigint;
  readonly position: string;
}

/** Pass 2: every "new" plan's lines, read back from the line spool, and its commit, in file order. Returns the commits by section. */
async function write(job: Job, plans: readonly Plan[]): Promise<Map<number, Committed>> {
  const committed = new Map<number, Committed>();
  const pending = plans.filter((p): p is Extract<Plan, { kind: "new" }> => p.kind === "new");
  if (pending.length === 0) return committed;
  const writers = new Map(pending.map((plan) => [plan.scan.section, new SectionWriter(job, plan)]));
  const rows = job.scan.lines.rowsInOrder()[Symbol.asyncIterator]();
  const commits = new CommitChain(committed);
  try {
    await writeRows(job, writers, rows, commits);
  } finally {
    // Nothing runs behind pass 2: a re-decision must see the streams and the accounts as they are.
    await commits.settle();
    await Promise.all([...writers.values()].map((writer) => writer.settle()));
    await rows.return?.();
  }
  return committed;
}

async function writeRows(job: Job, writers: ReadonlyMap<number, SectionWriter>, rows: AsyncIterator<Buffer>, commits: CommitChain): Promise<void> {
  let started = 0;
  for (const scan of job.scan.sections) {
    const writer = writers.get(scan.section);
    if (writer !== undefined) await commits.room();
    // Sections follow each other in the spool: a section not written is read past.
    for (const id of scan.lineIds) {
      const row = await rows.next();
      if (row.done === true) throw new Error(`the line spool ends inside statement ${scan.section + 1}`);
      // The row is the line as stored (stored-line.ts), JSON as UTF-8 bytes that go into the batch's data as they are.
      if (writer !== undefined && !writer.plan.known.has(id)) await writer.add(row.value);
    }
    if (writer === undefined) continue;
    commits.push(scan.section, writer);
    if (++started === writers.size) break;
  }
  await commits.all();
}

type CommitOutcome = { readonly ok: true } | { readonly ok: false; readonly error: unknown };

/**
 * The sections' commits, in file order, each after the one before it has
 * landed (a section's StatementImported goes at the revision after the
 * previous one's), while the next section's lines are read and its batches
 * appended: a file of many statements (an MT940 of a month of days) no longer
 * waits out every commit's round trip and WAL flush before it reads on.
 * At most SECTIONS_IN_FLIGHT sections are past their lines and not yet
 * committed. The first failure stops the chain (no later section commits)
 * and is what pass 2 throws.
 */
class CommitChain {
  private last: Promise<CommitOutcome> = Promise.resolve({ ok: true });
  private readonly open: Promise<CommitOutcome>[] = [];

  constructor(private readonly committed: Map<number, Committed>) {}

  push(section: number, writer: SectionWriter): void {
    const before = this.last;
    // Never rejects (an outcome, not a throw): nobody may await it for a while, and a rejection nobody handles yet would end the process.
    const outcome = (async (): Promise<CommitOutcome> => {
      try {
        await writer.finish();
        const prior = await before;
        if (!prior.ok) return prior;
        this.committed.set(section, await writer.commit());
        return { ok: true };
      } catch (error) {
        return { ok: false, error };
      }
    })();
    this.last = outcome;
    this.open.push(outcome);
  }

  /** Waits until another section may start; throws the chain's failure. */
  async room(): Promise<void> {
    while (this.open.length >= SECTIONS_IN_FLIGHT) {
      const outcome = await this.open.shift();
      if (outcome !== undefined && !outcome.ok) throw outcome.error;
    }
  }

  /** Waits for every commit; throws the first failure. */
  async all(): Promise<void> {
    const outcome = await this.last;
    this.open.length = 0;
    if (!outcome.ok) throw outcome.error;
  }

  /** Waits for every commit started, whatever its outcome. */
  async settle(): Promise<void> {
    await this.last;
  }
}

/**
 * Sections whose lines are all read and whose commit has not landed. Two: the
 * next section's batches go while this one's commit is in flight, and no
 * more appends than that run at once for one import.
 */
const SECTIONS_IN_FLIGHT = 2;

/**
 * Line batches (events) per append in pass 2. Each append is a round trip and
 * a commit (a WAL flush) besides the work on its bytes: a 200,000-line camt
 * waited about 10 ms per append beyond that work, 4 s over its 400 appends.
 * Four 500-line batches per append keep its payload at a few MB (at most 32 MB
 * of raw source).
 */
export const LINE_BATCHES_PER_APPEND = 4;

const COMMA = Buffer.from(",");
const TAIL = Buffer.from("]}");

/** One section's pass 2: its new lines in batches, then its commit. */
class SectionWriter {
  /** Lines as stored, as the JSON pass 1 spooled (JSON.stringify output of storedLine, UTF-8). */
  private batch: Buffer[] = [];
  private batchIndex = 0;
  /** Batches made into events and not yet sent: they go together, up to LINE_BATCHES_PER_APPEND in one append. */
  private sealed: NewEvent[] = [];
  /** The append of the last batches, while it runs: undefined once landed, `{ error }` when it failed. */
  private inflight: Promise<{ readonly error: unknown } | undefined> | undefined;
  /** The last append wrote its batches (not a replay): the stream ended with them then. */
  private wroteLast = false;
  private readonly envelope: (event: { type: string; data: never }, index: number) => NewEvent;

  constructor(
    private readonly job: Job,
    readonly plan: Extract<Plan, { kind: "new" }>,
  ) {
    this.envelope = envelopeOf({ ctx: job.ctx, stream: statementStream(plan.statementId), schemaVersionOf: reconciliationSchemaVersion });
  }

  async add(line: Buffer): Promise<void> {
    this.batch.push(line);
    if (this.batch.length < STATEMENT_LINES_PER_EVENT_MAX) return;
    this.seal();
    if (this.sealed.length >= LINE_BATCHES_PER_APPEND) await this.flush();
  }

  /** The lines collected become the next batch's event. */
  private seal(): void {
    if (this.batch.length === 0) return;
    const { statementId, data } = this.plan;
    const batchIndex = this.batchIndex;
    // The data as JSON around the spooled rows, in bytes: no line is decoded, parsed or serialized again (see SerializedJson).
    const head = Buffer.from(`{"statementId":${JSON.stringify(statementId)},"bankAccountId":${JSON.stringify(data.bankAccountId)},"batchIndex":${batchIndex},"lines":[`);
    const parts: Buffer[] = [head];
    for (const [i, row] of this.batch.entries()) {
      if (i > 0) parts.push(COMMA);
      parts.push(row);
    }
    parts.push(TAIL);
    this.sealed.push(this.event(batchEventId(statementId, batchIndex), "StatementLinesRecorded", new SerializedJson(Buffer.concat(parts))));
    this.batch = [];
    this.batchIndex++;
  }

  /**
   * Starts the append of the sealed batches, after the previous append has
   * landed: batch k goes at revision k, so one append at a time, but while it
   * is in flight the next batches are read (PostgreSQL and this thread work
   * at once instead of in turn).
   */
  private async flush(): Promise<void> {
    await this.landed();
    if (this.sealed.length === 0) return;
    const events = this.sealed;
    this.sealed = [];
    const first = this.batchIndex - events.length;
    // Batch k at revision k, grouped the same way every time: a retry writes the same events (same ids, same data) and the store answers them as a replay.
    this.inflight = this.job.deps.store.append(statementStream(this.plan.statementId), events, { expectedRevision: first === 0 ? "no-stream" : BigInt(first - 1) }).then(
      (result) => {
        this.wroteLast = !result.replayed;
        return undefined;
      },
      // Kept, not thrown here: nobody awaits this promise until the next flush, the commit or settle().
      (error: unknown) => ({ error }),
    );
  }

  /** Waits for the batch in flight; throws what its append failed with. */
  private async landed(): Promise<void> {
    const outcome = await this.inflight;
    this.inflight = undefined;
    if (outcome === undefined) return;
    const { error } = outcome;
    if (error instanceof WrongExpectedRevisionError || error instanceof DuplicateEventIdError) throw this.otherBatches();
    throw error;
  }

  /** Waits for the batch in flight, whatever its outcome: pass 2 never leaves an append running behind it (a re-decision must see the stream as it is). */
  async settle(): Promise<void> {
    await this.inflight;
    this.inflight = undefined;
  }

  /** The stream holds batches of another decision: this section moves to its next statement id, and the file is decided again. */
  private otherBatches(): Error {
    const section = this.plan.scan.section;
    const next = (this.job.attempt.get(section) ?? 0) + 1;
    this.job.attempt.set(section, next);
    if (next >= this.job.deps.limits.statementIdsMax) {
      return new TrueupError("CONCURRENCY_CONFLICT", `statement ${section + 1} of the file: every statement id of this command holds another attempt's lines; retry`);
    }
    return new Redecide(`statement ${section + 1}: its stream holds other batches`);
  }

  /** The last batches sent and landed, and the stream checked to hold only this decision's batches: ready to commit. */
  async finish(): Promise<void> {
    this.seal();
    await this.flush();
    await this.landed();
    const { statementId, data } = this.plan;
    if (this.batchIndex !== data.batches) throw new Error(`statement ${statementId}: wrote ${this.batchIndex} batches, decided ${data.batches}`);
    // An append that wrote at an exact revision ended the stream with our last batch: the check would read what it just said.
    if (!this.wroteLast) await this.assertNoOtherBatches();
  }

  /** The commit point (see the top of this file), after finish(). */
  async commit(): Promise<Committed> {
    const { statementId, data, expectedRevision } = this.plan;
    const event = this.event(importedEventId(statementId), "StatementImported", data);
    try {
      // At the revision the decision read, or not at all.
      const result = await this.job.deps.store.append(bankAccountStream(data.bankAccountId), [event], { expectedRevision });
      return { revision: result.nextExpectedRevision, position: result.position };
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) throw new Redecide("the bank account moved");
      // Our commit, already there at another revision: cannot be (its id is ours and decisions are read at the head); decide again to find it.
      if (error instanceof DuplicateEventIdError) throw new Redecide("the commit exists");
      throw error;
    }
  }

  /**
   * A stream longer than the batches decided holds another attempt's lines beyond them, which readers
   * would see: not ours to name. Batches 0..batches-1 are ours (just written or answered as replays), so
   * the question is only whether anything follows them: read from there (nothing is read in the usual case,
   * where a read of the last batch would fetch its 500 lines).
   */
  private async assertNoOtherBatches(): Promise<void> {
    const stream = statementStream(this.plan.statementId);
    const beyond = await this.job.deps.store.readStream(stream, { fromRevision: BigInt(this.plan.data.batches), maxCount: 1 }).catch((error: unknown) => {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    });
    if (beyond.length > 0) throw this.otherBatches();
  }

  private event(eventId: EventId, type: string, data: unknown): NewEvent {
    return { ...this.envelope({ type, data: data as never }, 0), eventId };
  }
}

// ---------------------------------------------------------------------------
// The answer

export function formatAmount(minor: bigint, currency: string): string {
  const exponent = statementCurrencyOf(currency)?.exponent ?? 2;
  return formatDigits(minor.toString(), exponent);
}

function totalsJson(totals: ReadonlyMap<string, CurrencyTotals>): TotalsJson[] {
  return [...totals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([currency, t]) => ({ currency, credits: { count: t.credits, amount: formatAmount(t.creditsMinor, currency) }, debits: { count: t.debits, amount: formatAmount(t.debitsMinor, currency) } }));
}

function answerOf(job: Job, format: StatementFormat, plans: readonly Plan[], committed: ReadonlyMap<number, Committed>): ImportAnswer {
  const statements: StatementAnswer[] = [];
  const merged = new Map<string, CurrencyTotals>();
  let last: Committed | undefined;
  let wrote = false;
  for (const plan of plans) {
    const scan = plan.scan;
    for (const [currency, t] of scan.totals) {
      const entry = merged.get(currency) ?? { credits: 0, creditsMinor: 0n, debits: 0, debitsMinor: 0n };
      merged.set(currency, { credits: entry.credits + t.credits, creditsMinor: entry.creditsMinor + t.creditsMinor, debits: entry.debits + t.debits, debitsMinor: entry.debitsMinor + t.debitsMinor });
    }
    const data = plan.kind === "new" ? plan.data : plan.stored.data;
    const reimport = plan.kind === "reimport";
    const commit = plan.kind === "new" ? committed.get(scan.section) : { revision: plan.stored.revision, position: plan.stored.position };
    if (commit !== undefined && (last === undefined || commit.position > last.position)) last = commit;
    if (plan.kind === "new") wrote = true;
    statements.push({
      statementId: data.statementId,
      bankAccountId: data.bankAccountId,
      section: scan.section,
      lineCount: scan.ids.size,
      newLines: reimport ? 0 : data.newLines,
      knownLines: reimport ? scan.ids.size : data.knownLines,
      totals: totalsJson(scan.totals),
      checks: data.checks,
      reimport,
    });
  }
  return {
    statementIds: statements.map((s) => s.statementId),
    format,
    lineCount: statements.reduce((n, s) => n + s.lineCount, 0),
    newLines: statements.reduce((n, s) => n + s.newLines, 0),
    knownLines: statements.reduce((n, s) => n + s.knownLines, 0),
    totals: totalsJson(merged),
    checks: statements.flatMap((s) => s.checks.filter((c) => c.status !== "passed").map((c) => ({ ...c, statementId: s.statementId, section: s.section }))),
    statements,
    revision: last?.revision,
    position: last?.position,
    replayed: !wrote && plans.every((p) => p.kind === "ours"),
  };
}
