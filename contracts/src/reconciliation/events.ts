// Reconciliation events, version 1. Amounts are unsigned minor units as
// strings of digits with a side (JSON has no bigint); parse them with BigInt.
//
// Streams (see the functions at the end):
// - `bankaccount-<bankAccountId>`: BankAccountRegistered, then one
//   StatementImported per statement. The import decision reads this stream
//   (previous statement, sequence, known periods) and appends with its
//   expected revision, so two imports to one account are serialized.
// - `bankaccounts-<ledgerId>`: BankAccountListed per bank account of the
//   ledger, so identifiers (IBAN, account number) are unique per ledger by
//   the expected revision of one stream.
// - `statement-<statementId>`: StatementLinesRecorded batches, written BEFORE
//   the StatementImported that lists them. A statement's lines count only once
//   its StatementImported is in the log (readers and projections ignore a
//   statement stream no StatementImported names), so a crash or outage in the
//   middle of a large import leaves nothing visible, and a retry with the same
//   Idempotency-Key writes the same batches (same event ids) and finishes.
// - `csvprofile-<ledgerId>:<profileId>`: CsvProfileSaved.
// - `recon-<bankAccountId>`: MatchProposed (autoConfirmed when the run's
//   threshold confirmed it at once), MatchConfirmed, MatchRejected,
//   MatchUnmatched, ReconciliationRunRecorded, WriteOffRequested, then
//   WriteOffPosted or WriteOffRefused: every match decision of the account
//   in one stream, so
//   its expected revision serializes runs, manual matches and unmatches
//   (see command-side/src/reconciliation/matches/decider.ts).
// - `nearmisses-<bankAccountId>`: NearMissesRecorded, a run's advice on the
//   items it left open; no decision reads it.
// - `matchingrules-<bankAccountId>`: MatchingRulesSet, one per version of a
//   bank account's matching rules (version n is revision n-1), so a change
//   decided on version n lands only if nobody set version n+1 meanwhile.
import { z } from "zod";
import { streamName } from "../ids.ts";
import type { StreamName } from "../ids.ts";
import { eventDateSchema, eventPeriodSchema } from "../calendar.ts";
import { SIDES, accountCodeSchema, ledgerIdSchema } from "../ledger/events.ts";
import { UpcasterRegistry } from "../upcasting.ts";
import type { StoredEventShape } from "../upcasting.ts";
import { STATEMENT_FORMATS } from "./statement.ts";
import { STATEMENT_LINE_LIMITS } from "./line-limits.ts";
import { statementLineProblem } from "./line-check.ts";
import { expandStoredLine } from "./stored-line.ts";

export const BANK_ACCOUNT_KINDS = ["bank", "psp"] as const;
export type BankAccountKind = (typeof BANK_ACCOUNT_KINDS)[number];

export const BANK_ACCOUNT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$/;
export const bankAccountIdSchema = z.string().regex(BANK_ACCOUNT_ID_PATTERN, "1-64 letters, digits, '_' or '.', starting with a letter or digit");
/** Statement ids are chosen by the server (UUIDs). */
export const statementIdSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "a lowercase UUID");
export const csvProfileIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$/, "1-64 letters, digits, '_' or '.', starting with a letter or digit");

export { STATEMENT_LINE_LIMITS } from "./line-limits.ts";

/** Lines per StatementLinesRecorded event: bounds each event's size and the memory of one append. */
export const STATEMENT_LINES_PER_EVENT_MAX = 500;

const digits = z.string().regex(/^(0|[1-9]\d{0,29})$/, "unsigned minor units as a digit string");
const currency = z.string().regex(/^[A-Z]{3}$/);
const field = z.string().max(STATEMENT_LINE_LIMITS.fieldLengthMax).nullable();
const text = z.string().max(STATEMENT_LINE_LIMITS.textLengthMax).nullable();

export const sourceLocationSchema = z.strictObject({
  line: z.number().int().min(1),
  column: z.string().max(200).optional(),
  element: z.string().max(1000).optional(),
  record: z.string().max(20).optional(),
});

export const balanceDataSchema = z.strictObject({
  amountMinor: digits,
  side: z.enum(SIDES),
  currency,
  date: eventDateSchema.nullable(),
});
export type BalanceData = z.infer<typeof balanceDataSchema>;

export const statementLineDataSchema = z.strictObject({
  /** The line's identity in its bank account: `ref:<bank reference>#<n>` or `hash:<sha-256 hex>#<n>` (n: occurrence in the statement, from 1). */
  lineId: z.string().min(1).max(STATEMENT_LINE_LIMITS.lineIdLengthMax),
  /** 1-based position of the line in its statement. */
  lineNumber: z.number().int().min(1),
  amountMinor: digits,
  side: z.enum(SIDES),
  currency,
  bookingDate: eventDateSchema.nullable(),
  valueDate: eventDateSchema.nullable(),
  reversal: z.boolean(),
  bankReference: field,
  endToEndId: field,
  customerReference: field,
  creditorReference: field,
  remittanceInformation: text,
  description: text,
  counterparty: z.strictObject({ name: field, iban: field, accountNumber: field, bic: field }),
  bankCodes: z.strictObject({
    domain: field,
    family: field,
    subFamily: field,
    proprietary: field,
    proprietaryIssuer: field,
    swift: field,
    bai2: field,
    ofx: field,
    psp: field,
  }),
  chargesMinor: digits.nullable(),
  batch: z.strictObject({ id: z.string().max(STATEMENT_LINE_LIMITS.fieldLengthMax), index: z.number().int().min(0), size: z.number().int().min(1), amountMinor: digits, side: z.enum(SIDES) }).nullable(),
  attributes: z
    .record(z.string().max(STATEMENT_LINE_LIMITS.attributeKeyLengthMax), z.string().max(STATEMENT_LINE_LIMITS.fieldLengthMax))
    .refine((attributes) => Object.keys(attributes).length <= STATEMENT_LINE_LIMITS.attributesMax, `at most ${STATEMENT_LINE_LIMITS.attributesMax} attributes`),
  raw: z.string().max(STATEMENT_LINE_LIMITS.rawLengthMax),
  location: sourceLocationSchema,
});
export type StatementLineData = z.infer<typeof statementLineDataSchema>;

/** Items on one side of a match: a run's groups hold at most 8; a clerk's manual match up to this. */
export const MATCH_ITEMS_PER_SIDE_MAX = 100;
export const MATCH_REASON_LENGTH_MAX = 500;
/**
 * Where a write-off stands, as the read models show it: requested with its
 * match's confirmation, then posted to the ledger or refused by it; once a
 * match with a posted write-off is unmatched, reversing, then reversed or
 * reversal-refused.
 */
export const WRITE_OFF_STATUSES = ["requested", "posted", "refused", "reversing", "reversed", "reversal-refused"] as const;
export type WriteOffStatus = (typeof WRITE_OFF_STATUSES)[number];
/** Counterparty → ledger account pairs one manual match teaches the engine; more are dropped (a match of many parties teaches little). */
export const MATCH_LEARNED_HINTS_MAX = 16;
/** A learned hint's counterparty: a normalised name or an IBAN. */
export const MATCH_HINT_COUNTERPARTY_LENGTH_MAX = 200;
export const matchIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, "1-100 letters, digits, '_', '.', ':' or '-', starting with a letter or digit");
/**
 * The metadata key of a write-off's journal entry (its value: the match or
 * exception id). Its line on the bank's ledger account is a difference
 * settled, not an item to match: every reader of internal items leaves such
 * entries out.
 */
export const WRITE_OFF_METADATA_KEY = "reconciliationWriteOff";

export const EXCEPTION_KINDS = ["aged", "duplicate", "amount-mismatch"] as const;
export type ExceptionKind = (typeof EXCEPTION_KINDS)[number];
/**
 * An exception's id names what it is about: `<bankAccountId>~<kind>~<side>~<item id, base64url>`,
 * so a resolution knows its item without a lookup, and one item has one id per kind.
 */
export const exceptionIdSchema = z
  .string()
  .max(400)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.]{0,63}~(aged|duplicate|amount-mismatch)~(external|internal)~[A-Za-z0-9_-]{1,300}$/, "an exception id as listed by GET /bank-accounts/{id}/exceptions");

/** A statement line's id (its bank account's line identity) or a ledger line's (`<entryId>:<line index>`). */
export const matchItemIdSchema = z.string().min(1).max(STATEMENT_LINE_LIMITS.lineIdLengthMax);
const signedDigits = z.string().regex(/^-?(0|[1-9]\d{0,29})$/, "signed minor units as a digit string").refine((value) => value !== "-0", "no negative zero");
export const matchCriterionSchema = z.strictObject({
  criterion: z.enum(["amount", "date", "reference", "counterpartyName", "counterpartyIban", "hint", "groupSize", "partial", "manual"]),
  grade: z.enum(["exact", "strong", "close", "weak", "absent"]),
  points: z.number().int().min(-100).max(100),
  reason: z.string().max(MATCH_REASON_LENGTH_MAX),
});

export const STATEMENT_CHECKS = ["balance", "continuity", "sequence", "currency", "account", "period", "controlTotals"] as const;
export type StatementCheckName = (typeof STATEMENT_CHECKS)[number];

/** One check's outcome, kept on the statement (failed ones too, when the import accepted them). */
export const checkResultSchema = z.strictObject({
  check: z.enum(STATEMENT_CHECKS),
  /** `skipped`: the file lacks what the check needs (no opening balance, no previous statement). */
  status: z.enum(["passed", "failed", "skipped"]),
  /** The error code a failure is reported with, e.g. STATEMENT_UNBALANCED. */
  code: z.string().max(100).nullable(),
  message: z.string().max(2000),
  expected: z.string().max(500).nullable(),
  actual: z.string().max(500).nullable(),
  location: sourceLocationSchema.nullable(),
});
export type CheckResult = z.infer<typeof checkResultSchema>;

/**
 * The items a rejection or an unmatch opens again, so an item's case file
 * can tell its story from the event alone (projections/src/cases/items.ts).
 * Empty on events recorded before they were carried.
 */
const reopenedItems = {
  externalIds: z.array(matchItemIdSchema).max(MATCH_ITEMS_PER_SIDE_MAX).default([]),
  internalIds: z.array(matchItemIdSchema).max(MATCH_ITEMS_PER_SIDE_MAX).default([]),
};

/** Open items one NearMissesRecorded carries: bounds the event's size (~100 kB at the most every field allows ~1 MB; ~60 kB typical). */
export const NEAR_MISS_ITEMS_PER_EVENT_MAX = 100;
/** Candidates kept per open item, and reasons per candidate. */
export const NEAR_MISS_CANDIDATES_MAX = 5;
export const NEAR_MISS_FAILURES_MAX = 12;

const nearMissCandidateSchema = z.strictObject({
  /** The candidate's items, on the other side. */
  itemIds: z.array(matchItemIdSchema).min(1).max(MATCH_ITEMS_PER_SIDE_MAX),
  score: z.number().int().min(0).max(100),
  /** Why it was not proposed: each criterion a rule failed, or the proposal that took the item. */
  failures: z.array(z.string().min(1).max(MATCH_REASON_LENGTH_MAX)).max(NEAR_MISS_FAILURES_MAX),
});

/** What a write-off settles: a match's difference, or a resolved exception's item. */
const writeOffSubjectSchema = z.union([matchIdSchema, exceptionIdSchema]);

export const reconciliationEventSchemas = {
  BankAccountRegistered: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    ledgerId: ledgerIdSchema,
    kind: z.enum(BANK_ACCOUNT_KINDS),
    name: z.string(),
    /** Normalised: upper case, no spaces. */
    iban: z.string().nullable(),
    /** As registered, trimmed; compared without spaces and case. */
    accountNumber: z.string().nullable(),
    bankId: z.string().nullable(),
    currency,
    ledgerAccount: accountCodeSchema,
  }),
  BankAccountListed: z.strictObject({
    ledgerId: ledgerIdSchema,
    bankAccountId: bankAccountIdSchema,
    /** The normalised identifiers (IBAN, account number) this account holds in the ledger. */
    identifiers: z.array(z.string().min(1).max(100)).min(1).max(4),
  }),
  StatementLinesRecorded: z.strictObject({
    statementId: statementIdSchema,
    bankAccountId: bankAccountIdSchema,
    /** 0-based; a statement's batches are revisions 0..batches-1 of its stream. */
    batchIndex: z.number().int().min(0),
    /** Stored without their default members (stored-line.ts, version 2); read back whole. */
    lines: z.array(z.preprocess(expandStoredLine, statementLineDataSchema)).min(1).max(STATEMENT_LINES_PER_EVENT_MAX),
  }),
  StatementImported: z.strictObject({
    statementId: statementIdSchema,
    bankAccountId: bankAccountIdSchema,
    ledgerId: ledgerIdSchema,
    format: z.enum(STATEMENT_FORMATS),
    source: z.strictObject({
      /** SHA-256 (hex) of the whole file as received. */
      fileSha256: z.string().regex(/^[0-9a-f]{64}$/),
      fileBytes: z.number().int().min(0),
      fileName: z.string().max(500).nullable(),
      encoding: z.string().max(40),
      /** 0-based section of the file this statement came from. */
      section: z.number().int().min(0),
    }),
    account: z.strictObject({ iban: field, accountNumber: field, bankId: field }),
    currency,
    statementReference: field,
    sequenceNumber: field,
    pageNumber: field,
    createdAt: field,
    periodStart: eventDateSchema.nullable(),
    periodEnd: eventDateSchema.nullable(),
    openingBalance: balanceDataSchema.nullable(),
    closingBalance: balanceDataSchema.nullable(),
    availableBalance: balanceDataSchema.nullable(),
    /** Lines in the file's statement, new and known. */
    lineCount: z.number().int().min(0),
    /** Lines recorded by this statement (in its StatementLinesRecorded batches). */
    newLines: z.number().int().min(0),
    /** Lines already recorded by an earlier statement of the account (same line id): not recorded again. */
    knownLines: z.number().int().min(0),
    /** StatementLinesRecorded events in `statement-<statementId>`. */
    batches: z.number().int().min(0),
    totals: z.strictObject({ creditsMinor: digits, debitsMinor: digits, credits: z.number().int().min(0), debits: z.number().int().min(0) }),
    checks: z.array(checkResultSchema).max(50),
    /** True when some check failed and the import was made with acceptFailedChecks. */
    acceptedWithFailedChecks: z.boolean(),
  }),
  CsvProfileSaved: z.strictObject({
    ledgerId: ledgerIdSchema,
    profileId: csvProfileIdSchema,
    /** The profile as validated by csvProfileSchema (contracts/src/reconciliation/csv-profile.ts). */
    profile: z.record(z.string(), z.unknown()),
  }),
  /**
   * A match of external and internal items, suggested (by a run, or a
   * clerk's manual match, which is confirmed in the same append). Its items
   * are in no other live match (suggested or confirmed) of the account.
   */
  MatchProposed: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    matchId: matchIdSchema,
    /** The run that proposed it; null for a manual match. */
    runId: matchIdSchema.nullable(),
    kind: z.enum(["1:1", "1:N", "N:1", "N:M"]),
    externalIds: z.array(matchItemIdSchema).min(1).max(MATCH_ITEMS_PER_SIDE_MAX),
    internalIds: z.array(matchItemIdSchema).min(1).max(MATCH_ITEMS_PER_SIDE_MAX),
    currency,
    /** The rule that scored it; null for a manual match. */
    ruleId: z.string().max(64).nullable(),
    score: z.number().int().min(0).max(100),
    criteria: z.array(matchCriterionSchema).max(16),
    /** Σ external − Σ internal, signed minor units (0, a write-off, or a partial match's residual). */
    differenceMinor: signedDigits,
    /** `date`: the write-off's effective date (the latest external item's); null only on matches proposed before it was recorded. */
    writeOff: z.strictObject({ amountMinor: signedDigits, ledgerAccount: accountCodeSchema, date: eventDateSchema.nullable().default(null) }).nullable(),
    residual: z.strictObject({ side: z.enum(["external", "internal"]), itemId: matchItemIdSchema, amountMinor: signedDigits }).nullable(),
    ambiguous: z.boolean(),
    /**
     * What a clerk's manual match teaches later runs: the external items'
     * counterparties (normalised name, IBAN) with the ledger accounts the
     * internal items' entries booked against. Empty for a run's proposal.
     */
    learned: z
      .array(z.strictObject({ counterparty: z.string().min(1).max(MATCH_HINT_COUNTERPARTY_LENGTH_MAX), ledgerAccount: accountCodeSchema }))
      .max(MATCH_LEARNED_HINTS_MAX)
      .default([]),
    /**
     * Confirmed by the run's auto-confirm threshold in the same decision: no
     * MatchConfirmed follows, the match is confirmed (automatic) from this
     * event on. One event for what was two (MatchProposed, then
     * MatchConfirmed automatic), because a run writes one per auto-confirmed
     * proposal: 72,615 fewer events for every reader in a run of 98,003
     * proposals (BENCHMARKS.md, "Matching"). A clerk's decisions, a manual
     * match's confirmation included, stay events of their own. False on
     * matches proposed before it was recorded (they have their MatchConfirmed).
     */
    autoConfirmed: z.boolean().default(false),
  }),
  /** A suggested match confirmed, by a clerk or (automatic) by the run's threshold. */
  MatchConfirmed: z.strictObject({ bankAccountId: bankAccountIdSchema, matchId: matchIdSchema, automatic: z.boolean() }),
  /** A suggested match turned down: its items are open again. */
  MatchRejected: z.strictObject({ bankAccountId: bankAccountIdSchema, matchId: matchIdSchema, reason: z.string().min(1).max(MATCH_REASON_LENGTH_MAX), ...reopenedItems }),
  /** A confirmed match undone: its items are open again. */
  MatchUnmatched: z.strictObject({ bankAccountId: bankAccountIdSchema, matchId: matchIdSchema, reason: z.string().min(1).max(MATCH_REASON_LENGTH_MAX), ...reopenedItems }),
  /**
   * A confirmed match's difference to be posted to the ledger: appended with
   * the confirmation, carried out by the write-off process manager
   * (WriteOffPosted or WriteOffRefused follow). The entry debits or credits
   * the bank account's ledger account by the difference (Σ external −
   * Σ internal, signed: negative is money the bank did not pay in, e.g. a
   * fee) against the write-off account.
   */
  WriteOffRequested: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    /** The match whose difference it is, or the exception whose item it settles. */
    matchId: writeOffSubjectSchema,
    ledgerId: ledgerIdSchema,
    entryId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$/),
    effectiveDate: eventDateSchema,
    currency,
    amountMinor: signedDigits.refine((value) => value !== "0", "a write-off is never zero"),
    bankLedgerAccount: accountCodeSchema,
    writeOffAccount: accountCodeSchema,
  }),
  /** The write-off's journal entry is in the ledger. */
  WriteOffPosted: z.strictObject({ bankAccountId: bankAccountIdSchema, matchId: writeOffSubjectSchema, ledgerId: ledgerIdSchema, entryId: z.string().min(1).max(64) }),
  /** The ledger refused the write-off's entry (a closed period or account): a clerk must resolve it. */
  WriteOffRefused: z.strictObject({ bankAccountId: bankAccountIdSchema, matchId: writeOffSubjectSchema, code: z.string().min(1).max(100), message: z.string().max(2000) }),
  /**
   * A match whose write-off was posted is unmatched: its entry is to be
   * reversed (appended with the MatchUnmatched, carried out by the
   * write-off process manager; WriteOffReversed or WriteOffReversalRefused
   * follow). Dated as the write-off was, so the books of that month lose
   * it with the match.
   */
  WriteOffReversalRequested: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    matchId: matchIdSchema,
    ledgerId: ledgerIdSchema,
    entryId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$/),
    reversalEntryId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$/),
    effectiveDate: eventDateSchema,
  }),
  /** The write-off's reversal is in the ledger. */
  WriteOffReversed: z.strictObject({ bankAccountId: bankAccountIdSchema, matchId: matchIdSchema, ledgerId: ledgerIdSchema, reversalEntryId: z.string().min(1).max(64) }),
  /** The ledger refused the reversal (its period closed meanwhile): the write-off stays in the books; a clerk must resolve it. */
  WriteOffReversalRefused: z.strictObject({ bankAccountId: bankAccountIdSchema, matchId: matchIdSchema, code: z.string().min(1).max(100), message: z.string().max(2000) }),
  /**
   * An open item settled without a match: written off (a journal entry for
   * its amount against `writeOff.ledgerAccount`, requested in the same
   * append) or ignored (a clerk's explanation, no entry). The item is taken
   * from then on, like an item in a live match.
   */
  ItemResolved: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    exceptionId: exceptionIdSchema,
    kind: z.enum(EXCEPTION_KINDS),
    side: z.enum(["external", "internal"]),
    itemId: matchItemIdSchema,
    resolution: z.enum(["write-off", "ignore"]),
    reason: z.string().max(MATCH_REASON_LENGTH_MAX).nullable(),
    writeOff: z.strictObject({ amountMinor: signedDigits, ledgerAccount: accountCodeSchema, date: eventDateSchema }).nullable(),
  }),
  /**
   * A bank account's month signed off: every item dated up to its end was
   * matched, written off or explained, and the bank reconciliation
   * statement (kept here as computed) showed no difference. Matches with an
   * item dated up to `periodEnd` are locked from then on.
   */
  ReconciliationPeriodClosed: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    period: eventPeriodSchema,
    periodEnd: eventDateSchema,
    /** The statement as reconciliationStatementDto (contracts/src/reconciliation/reconciliation-statement.ts) shaped it. */
    statement: z.record(z.string(), z.unknown()),
  }),
  /** An open exception handed to someone; the item stays open. */
  ExceptionReassigned: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    exceptionId: exceptionIdSchema,
    assignee: z.string().min(1).max(200),
    reason: z.string().max(MATCH_REASON_LENGTH_MAX).nullable(),
  }),
  /**
   * A run that recorded its proposals (a dry run records nothing), appended
   * after its last slice of proposals: what it read, what it proposed and
   * which bounds cut its search short.
   */
  ReconciliationRunRecorded: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    runId: matchIdSchema,
    window: z.strictObject({ from: eventDateSchema.nullable(), to: eventDateSchema.nullable() }),
    items: z.strictObject({ external: z.number().int().min(0), internal: z.number().int().min(0) }),
    /** Proposals the engine made, by kind (before conflicts). */
    proposals: z.strictObject({ "1:1": z.number().int().min(0), "1:N": z.number().int().min(0), "N:1": z.number().int().min(0), "N:M": z.number().int().min(0) }),
    autoConfirmed: z.number().int().min(0),
    suggested: z.number().int().min(0),
    ambiguous: z.number().int().min(0),
    /** Proposals left out because an item was taken between the run's read and its write. */
    conflicts: z.number().int().min(0),
    bounds: z.array(z.strictObject({ bound: z.string().min(1).max(64), times: z.number().int().min(1), detail: z.string().max(MATCH_REASON_LENGTH_MAX) })).max(32),
  }),
  /**
   * A run's near misses: for items it left open, the candidates that came
   * closest and why each was not proposed. Appended (in batches of at most
   * NEAR_MISS_ITEMS_PER_EVENT_MAX items) to `nearmisses-<bankAccountId>`
   * before the run's ReconciliationRunRecorded, so a read at the run's
   * position shows them. Advice for a clerk, not a decision: no decider
   * reads them, and a later run's near misses of an item replace these.
   */
  NearMissesRecorded: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    runId: matchIdSchema,
    items: z
      .array(z.strictObject({ side: z.enum(["external", "internal"]), itemId: matchItemIdSchema, candidates: z.array(nearMissCandidateSchema).max(NEAR_MISS_CANDIDATES_MAX) }))
      .min(1)
      .max(NEAR_MISS_ITEMS_PER_EVENT_MAX),
  }),
  MatchingRulesSet: z.strictObject({
    bankAccountId: bankAccountIdSchema,
    ledgerId: ledgerIdSchema,
    /** 1 for the first rules set, then one more per change. */
    version: z.number().int().min(1),
    /** The rules as validated by matchingRulesSchema (contracts/src/reconciliation/matching-rules.ts), defaults filled in. */
    rules: z.record(z.string(), z.unknown()),
  }),
} as const;

export type ReconciliationEventType = keyof typeof reconciliationEventSchemas;
export type ReconciliationEvent = {
  [T in ReconciliationEventType]: { readonly type: T; readonly data: z.infer<(typeof reconciliationEventSchemas)[T]> };
}[ReconciliationEventType];
export const RECONCILIATION_EVENT_TYPES = Object.keys(reconciliationEventSchemas) as ReconciliationEventType[];

/**
 * StatementLinesRecorded v2 leaves a line's default members out (stored-line.ts); a v1 line has
 * them all, which reads the same: the identity. (See ledgerUpcasters for the rule.)
 */
export const reconciliationUpcasters = new UpcasterRegistry().register("StatementLinesRecorded", 1, (data) => data);

export function reconciliationSchemaVersion(type: string): number {
  return reconciliationUpcasters.currentVersion(type);
}

/** Parses an event read from the log into a typed reconciliation event; throws on what this build does not know. */
export function parseReconciliationEvent(stored: StoredEventShape): ReconciliationEvent {
  const { type, data } = reconciliationUpcasters.upcast(stored);
  if (!(type in reconciliationEventSchemas)) throw new TypeError(`not a reconciliation event type: ${type}`);
  if (type === "StatementLinesRecorded") return { type, data: parseLinesRecorded(data) };
  const schema = reconciliationEventSchemas[type as ReconciliationEventType];
  return { type, data: schema.parse(data) } as ReconciliationEvent;
}

const linesRecordedEnvelopeSchema = reconciliationEventSchemas.StatementLinesRecorded.extend({ lines: z.array(z.unknown()).min(1).max(STATEMENT_LINES_PER_EVENT_MAX) });

/**
 * A StatementLinesRecorded as its schema would parse it, each line checked by
 * hand (line-check.ts: the same verdict at a fraction of the cost; a batch is
 * 500 lines and a large import hundreds of batches). Anything refused is
 * parsed by the schema, which throws its exact issue.
 */
function parseLinesRecorded(data: unknown): z.infer<(typeof reconciliationEventSchemas)["StatementLinesRecorded"]> {
  const envelope = linesRecordedEnvelopeSchema.safeParse(data);
  if (envelope.success) {
    const lines = envelope.data.lines.map(expandStoredLine);
    if (lines.every((line) => statementLineProblem(line) === undefined)) return { ...envelope.data, lines: lines as StatementLineData[] };
  }
  return reconciliationEventSchemas.StatementLinesRecorded.parse(data);
}

export const RECONCILIATION_CATEGORIES = {
  bankAccount: "bankaccount",
  ledgerBankAccounts: "bankaccounts",
  statement: "statement",
  csvProfile: "csvprofile",
  matchingRules: "matchingrules",
  recon: "recon",
  nearMisses: "nearmisses",
} as const;

export function bankAccountStream(bankAccountId: string): StreamName {
  return streamName(RECONCILIATION_CATEGORIES.bankAccount, bankAccountId);
}
export function ledgerBankAccountsStream(ledgerId: string): StreamName {
  return streamName(RECONCILIATION_CATEGORIES.ledgerBankAccounts, ledgerId);
}
export function statementStream(statementId: string): StreamName {
  return streamName(RECONCILIATION_CATEGORIES.statement, statementId);
}
export function csvProfileStream(ledgerId: string, profileId: string): StreamName {
  return streamName(RECONCILIATION_CATEGORIES.csvProfile, `${ledgerId}:${profileId}`);
}
export function matchingRulesStream(bankAccountId: string): StreamName {
  return streamName(RECONCILIATION_CATEGORIES.matchingRules, bankAccountId);
}
/** `recon-<bankAccountId>`: every match decision of the account, so one expected revision serializes them (no item in two live matches). */
export function reconStream(bankAccountId: string): StreamName {
  return streamName(RECONCILIATION_CATEGORIES.recon, bankAccountId);
}
/** `nearmisses-<bankAccountId>`: the account's runs' near misses, apart from the decisions (the recon stream's readers never load them). */
export function nearMissStream(bankAccountId: string): StreamName {
  return streamName(RECONCILIATION_CATEGORIES.nearMisses, bankAccountId);
}
