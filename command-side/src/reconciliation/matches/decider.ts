// Match decisions of one bank account: proposals of a run, a clerk's
// confirm, reject, manual match and unmatch. Every one goes to the account's
// one stream, `recon-<bankAccountId>`, and is decided against its state, so
// the guarantee "no item is ever in two live matches" rests on a single
// expected revision:
// - a decision reads the state at revision r and its events land only at
//   r + 1; a run, a manual match and an unmatch racing each other are
//   serialized by the store, and the loser is decided again on the new
//   state (the stream writer does it), never appended on the old one;
// - the state knows, for each item, the live match holding it (suggested or
//   confirmed), and every decision that adds a match checks its items
//   against it; evolve asserts it, so a stream that broke it would fail
//   loudly on load rather than be believed.
// Pure: amounts, limits and the write-off account come in the command.
import assert from "node:assert/strict";
import { TrueupError, jsonValueOf, parseReconciliationEvent } from "@trueup/contracts";
import type { JsonValue, ReconciliationEvent } from "@trueup/contracts";
import type { Decision as GenericDecision } from "../../decision.ts";
import { derivedEntityId } from "../../ids.ts";
import { BucketMap } from "./bucket-map.ts";
import { hintKey, learnedHints } from "./hints.ts";
import type { HintSource, LearnedHint } from "./hints.ts";

type MatchEventType =
  | "MatchProposed" | "MatchConfirmed" | "MatchRejected" | "MatchUnmatched" | "ReconciliationRunRecorded"
  | "WriteOffRequested" | "WriteOffPosted" | "WriteOffRefused" | "WriteOffReversalRequested" | "WriteOffReversed" | "WriteOffReversalRefused"
  | "ItemResolved" | "ExceptionReassigned" | "ReconciliationPeriodClosed";
type PeriodClosedData = Extract<ReconciliationEvent, { type: "ReconciliationPeriodClosed" }>["data"];
export type MatchEvent =
  | Extract<ReconciliationEvent, { type: Exclude<MatchEventType, "ReconciliationPeriodClosed"> }>
  /** The statement as JSON (its DTO), so the event is a plain JSON value. */
  | { readonly type: "ReconciliationPeriodClosed"; readonly data: Omit<PeriodClosedData, "statement"> & { readonly statement: JsonValue } }
  | { readonly type: "Unrelated"; readonly data: { readonly type: string } };
export type Decision = GenericDecision<MatchEvent>;
type Proposed = Extract<ReconciliationEvent, { type: "MatchProposed" }>["data"];

export type MatchStatus = "suggested" | "confirmed" | "rejected" | "unmatched";

export interface MatchRecord {
  readonly status: MatchStatus;
  readonly externalIds: readonly string[];
  readonly internalIds: readonly string[];
  readonly writeOff: Proposed["writeOff"];
  readonly currency: string;
  /** The run that proposed it (null: a clerk's manual match), and whether the run confirmed it itself. */
  readonly runId: string | null;
  readonly automatic: boolean;
  /**
   * Where its write-off is: none asked for yet, requested with the
   * confirmation, then posted or refused by the ledger; a posted one whose
   * match is unmatched is reversing, then reversed (or reversal-refused).
   */
  readonly writeOffState: WriteOffState;
  /** What it teaches later runs while confirmed (a manual match's counterparty → account pairs; empty for a run's). */
  readonly learned: readonly LearnedHint[];
}

export type WriteOffState = "none" | "requested" | "posted" | "refused" | "reversing" | "reversed" | "reversal-refused";

/** Where a bank account's write-offs post: its ledger and the ledger account its lines match. From its own stream. */
export interface ReconAccount {
  readonly ledgerId: string;
  readonly ledgerAccount: string;
}

/** The write-off's entry id: one per match, so a request retried or repeated can only ever post one entry. */
export function writeOffEntryId(matchId: string): string {
  return derivedEntityId("wo", matchId);
}

/** The entry reversing a match's write-off: one per match too (a match is unmatched at most once). */
export function writeOffReversalEntryId(matchId: string): string {
  return derivedEntityId("wor", matchId);
}

/**
 * The WriteOffRequested that goes with confirming `match`, if it carries a
 * write-off. Dated by the write-off's own date (the latest bank line's),
 * else (a match proposed before that was recorded) `fallbackDate`.
 */
function writeOffRequest(bankAccountId: string, matchId: string, match: Pick<MatchRecord, "writeOff">, account: ReconAccount, fallbackDate: string, currency: string): MatchEvent[] {
  const writeOff = match.writeOff;
  if (writeOff === null || writeOff.amountMinor === "0") return [];
  return [{
    type: "WriteOffRequested",
    data: {
      bankAccountId, matchId, ledgerId: account.ledgerId, entryId: writeOffEntryId(matchId), effectiveDate: writeOff.date ?? fallbackDate,
      currency, amountMinor: writeOff.amountMinor, bankLedgerAccount: account.ledgerAccount, writeOffAccount: writeOff.ledgerAccount,
    },
  }];
}

/** The items a rejection or an unmatch of `match` opens again, as its event carries them. */
function reopened(match: Pick<MatchRecord, "externalIds" | "internalIds">): { externalIds: string[]; internalIds: string[] } {
  return { externalIds: [...match.externalIds], internalIds: [...match.internalIds] };
}

/** An open item settled without a match (ItemResolved): the item stays taken. */
export interface ResolutionRecord {
  readonly side: "external" | "internal";
  readonly itemId: string;
  readonly resolution: "write-off" | "ignore";
  readonly writeOff: { readonly amountMinor: string; readonly ledgerAccount: string; readonly date: string } | null;
  readonly writeOffState: WriteOffState;
}

export interface ReconState {
  readonly matches: BucketMap<MatchRecord>;
  /**
   * Item key (itemKey) → what holds it: the live match (suggested or
   * confirmed), or the exception that resolved it (an id in `resolved`).
   */
  readonly live: BucketMap<string>;
  /** Exception id → its resolution. */
  readonly resolved: BucketMap<ResolutionRecord>;
  /** The end of the latest signed-off period: matches with an item dated up to it are locked. */
  readonly closedThrough: string | null;
  /** Learned hints (hintKey) → how many confirmed matches teach it; a count that falls to zero is removed. */
  readonly hints: BucketMap<number>;
}

export const initialReconState = (): ReconState => ({ matches: BucketMap.empty(), live: BucketMap.empty(), resolved: BucketMap.empty(), closedThrough: null, hints: BucketMap.empty() });

const NOTHING_LEARNED: readonly LearnedHint[] = [];

/** The hint counts with `match`'s lesson added (+1) or taken back (−1). */
function withLesson(hints: BucketMap<number>, learned: readonly LearnedHint[], by: 1 | -1): BucketMap<number> {
  if (learned.length === 0) return hints;
  const set: [string, number][] = [];
  const remove: string[] = [];
  for (const hint of learned) {
    const key = hintKey(hint);
    const count = (hints.get(key) ?? 0) + by;
    assert.ok(count >= 0, `hint ${key} taken back more often than learned`);
    if (count === 0) remove.push(key);
    else set.push([key, count]);
  }
  return hints.with(set, remove);
}

/** External and internal ids may coincide; the key keeps the sides apart. */
export function itemKey(side: "external" | "internal", id: string): string {
  return `${side === "external" ? "e" : "i"}:${id}`;
}

function keysOf(match: { readonly externalIds: readonly string[]; readonly internalIds: readonly string[] }): string[] {
  return [...match.externalIds.map((id) => itemKey("external", id)), ...match.internalIds.map((id) => itemKey("internal", id))];
}

/** A match's lifecycle: a suggestion is confirmed or rejected; a confirmed match leaves only by an unmatch. */
const FROM: Readonly<Record<MatchStatus, MatchStatus | undefined>> = { suggested: undefined, confirmed: "suggested", rejected: "suggested", unmatched: "confirmed" };

function withStatus(state: ReconState, matchId: string, status: MatchStatus, automatic = false): ReconState {
  const match = state.matches.get(matchId);
  assert.ok(match !== undefined, `match ${matchId} changed before it was proposed`);
  assert.ok(match.status === FROM[status], `match ${matchId} cannot become ${status} from ${match.status}`);
  const live = status === "rejected" || status === "unmatched" ? state.live.with([], keysOf(match)) : state.live;
  const hints = status === "confirmed" ? withLesson(state.hints, match.learned, 1) : status === "unmatched" ? withLesson(state.hints, match.learned, -1) : state.hints;
  return { ...state, matches: state.matches.with([[matchId, { ...match, status, automatic: match.automatic || automatic }]]), live, hints };
}

function withWriteOff(state: ReconState, subject: string, writeOffState: WriteOffState): ReconState {
  const match = state.matches.get(subject);
  if (match !== undefined) {
    assert.ok(match.writeOff !== null, `write-off event for match ${subject}, which carries no write-off`);
    return { ...state, matches: state.matches.with([[subject, { ...match, writeOffState }]]) };
  }
  const resolution = state.resolved.get(subject);
  assert.ok(resolution?.writeOff != null, `write-off event for ${subject}, neither a match with a write-off nor an item written off`);
  return { ...state, resolved: state.resolved.with([[subject, { ...resolution, writeOffState }]]) };
}

export function evolveRecon(state: ReconState, event: MatchEvent): ReconState {
  switch (event.type) {
    case "MatchProposed": {
      const { matchId } = event.data;
      assert.ok(!state.matches.has(matchId), `match ${matchId} is proposed twice`);
      const keys = keysOf(event.data);
      for (const key of keys) assert.ok(!state.live.has(key), `item ${key} would be in two live matches (${state.live.get(key) ?? ""} and ${matchId})`);
      const proposed: ReconState = {
        ...state,
        matches: state.matches.with([[matchId, { status: "suggested", externalIds: event.data.externalIds, internalIds: event.data.internalIds, writeOff: event.data.writeOff, currency: event.data.currency, runId: event.data.runId, automatic: false, writeOffState: "none", learned: event.data.learned.length === 0 ? NOTHING_LEARNED : event.data.learned }]]),
        live: state.live.with(keys.map((key) => [key, matchId] as const)),
      };
      return event.data.autoConfirmed ? withStatus(proposed, matchId, "confirmed", true) : proposed;
    }
    case "MatchConfirmed":
      return withStatus(state, event.data.matchId, "confirmed", event.data.automatic);
    case "MatchRejected":
      return withStatus(state, event.data.matchId, "rejected");
    case "MatchUnmatched":
      return withStatus(state, event.data.matchId, "unmatched");
    case "WriteOffRequested":
      return withWriteOff(state, event.data.matchId, "requested");
    case "WriteOffPosted":
      return withWriteOff(state, event.data.matchId, "posted");
    case "WriteOffRefused":
      return withWriteOff(state, event.data.matchId, "refused");
    case "WriteOffReversalRequested":
      return withWriteOff(state, event.data.matchId, "reversing");
    case "WriteOffReversed":
      return withWriteOff(state, event.data.matchId, "reversed");
    case "WriteOffReversalRefused":
      return withWriteOff(state, event.data.matchId, "reversal-refused");
    case "ItemResolved": {
      const { exceptionId, side, itemId, resolution, writeOff } = event.data;
      const key = itemKey(side, itemId);
      assert.ok(!state.live.has(key), `item ${key} resolved by ${exceptionId} while held by ${state.live.get(key) ?? ""}`);
      return {
        ...state,
        live: state.live.with([[key, exceptionId]]),
        resolved: state.resolved.with([[exceptionId, { side, itemId, resolution, writeOff, writeOffState: "none" }]]),
      };
    }
    case "ReconciliationPeriodClosed": {
      const { periodEnd } = event.data;
      return { ...state, closedThrough: state.closedThrough === null || periodEnd > state.closedThrough ? periodEnd : state.closedThrough };
    }
    case "ExceptionReassigned":
    case "ReconciliationRunRecorded":
    case "Unrelated":
      return state;
  }
}

/** A run's proposal, as the engine made it, with the match id the run gives it. */
export interface RunProposal extends Omit<Proposed, "bankAccountId" | "runId" | "learned" | "autoConfirmed"> {
  /** Confirmed in the same event (the engine's autoConfirm: at the threshold, not ambiguous, not partial): MatchProposed.autoConfirmed. */
  readonly autoConfirm: boolean;
}

export interface ProposeMatches {
  readonly type: "ProposeMatches";
  readonly data: { readonly bankAccountId: string; readonly runId: string; readonly proposals: readonly RunProposal[]; readonly account: ReconAccount; readonly today: string };
}

/**
 * A run's proposals whose items are all open now (the run read its items
 * from read models that may lag, or a clerk matched one meanwhile); the
 * others are left out, and the caller counts them as conflicts.
 */
export function decideProposals(command: ProposeMatches, state: ReconState): Decision {
  const { bankAccountId, runId, proposals, account, today } = command.data;
  const claimed = new Set<string>();
  const events: MatchEvent[] = [];
  for (const proposal of proposals) {
    const keys = keysOf(proposal);
    if (state.matches.has(proposal.matchId) || keys.some((key) => state.live.has(key) || claimed.has(key))) continue;
    for (const key of keys) claimed.add(key);
    const { autoConfirm, ...data } = proposal;
    // Confirmed in the same event: a run's auto-confirmation is no decision of its own (MatchProposed.autoConfirmed).
    events.push({ type: "MatchProposed", data: { ...data, bankAccountId, runId, learned: [], autoConfirmed: autoConfirm } });
    if (!autoConfirm) continue;
    events.push(...writeOffRequest(bankAccountId, proposal.matchId, proposal, account, today, proposal.currency));
  }
  return { events };
}

function existing(state: ReconState, matchId: string, wanted: MatchStatus): MatchRecord | TrueupError {
  const match = state.matches.get(matchId);
  if (match === undefined) return new TrueupError("MATCH_NOT_FOUND", `no match ${matchId}`);
  if (match.status !== wanted) {
    // Not `status`: a problem's detail members sit beside its HTTP status.
    return new TrueupError("MATCH_STATUS_CONFLICT", `match ${matchId} is ${match.status}, not ${wanted}`, { detail: { matchId, matchStatus: match.status, neededStatus: wanted } });
  }
  return match;
}

export interface MatchDecisionCommand {
  readonly type: "ConfirmMatch" | "RejectMatch" | "UnmatchMatch";
  readonly data: {
    readonly bankAccountId: string;
    readonly matchId: string;
    readonly reason: string | null;
    readonly account: ReconAccount;
    readonly today: string;
    /** For an unmatch: the dates of the match's items (from the read models), checked against signed-off periods. */
    readonly itemDates?: readonly (string | null)[];
  };
}

/** Confirm or reject a suggested match; unmatch a confirmed one (a suggestion is rejected instead). */
export function decideMatchDecision(command: MatchDecisionCommand, state: ReconState): Decision {
  const { bankAccountId, matchId, reason, account, today } = command.data;
  const found = existing(state, matchId, command.type === "UnmatchMatch" ? "confirmed" : "suggested");
  if (found instanceof TrueupError) return { rejected: found };
  const closedThrough = state.closedThrough;
  if (command.type === "UnmatchMatch" && closedThrough !== null && (command.data.itemDates ?? []).some((date) => date !== null && date <= closedThrough)) {
    return { rejected: new TrueupError("RECONCILIATION_PERIOD_CLOSED", `match ${matchId} has an item dated in the period signed off through ${closedThrough}`, { detail: { matchId, closedThrough } }) };
  }
  if (command.type === "UnmatchMatch" && found.writeOffState === "requested") {
    // Its write-off is being posted: whether it lands is not known yet, so neither is what undoing it takes.
    return { rejected: new TrueupError("MATCH_HAS_WRITE_OFF", `match ${matchId} has its write-off being posted to the ledger; unmatch it once it is posted`, { detail: { matchId, writeOff: found.writeOffState } }) };
  }
  switch (command.type) {
    case "ConfirmMatch":
      return { events: [{ type: "MatchConfirmed", data: { bankAccountId, matchId, automatic: false } }, ...writeOffRequest(bankAccountId, matchId, found, account, today, found.currency)] };
    case "RejectMatch":
      assert.ok(reason !== null, "a rejection needs its reason (the API requires it)");
      return { events: [{ type: "MatchRejected", data: { bankAccountId, matchId, reason, ...reopened(found) } }] };
    case "UnmatchMatch": {
      assert.ok(reason !== null, "an unmatch needs its reason (the API requires it)");
      const events: MatchEvent[] = [{ type: "MatchUnmatched", data: { bankAccountId, matchId, reason, ...reopened(found) } }];
      // A posted write-off leaves with its match: its entry is reversed, on the date it was posted, through the ledger.
      if (found.writeOffState === "posted" && found.writeOff !== null) {
        events.push({
          type: "WriteOffReversalRequested",
          data: { bankAccountId, matchId, ledgerId: account.ledgerId, entryId: writeOffEntryId(matchId), reversalEntryId: writeOffReversalEntryId(matchId), effectiveDate: found.writeOff.date ?? today },
        });
      }
      return { events };
    }
  }
}

export interface ManualItem extends HintSource {
  readonly id: string;
  readonly amountMinor: bigint;
  /** Booking date (else value date) of a statement line, the effective date of a ledger line; dates the write-off. */
  readonly date: string | null;
}

export interface ManualMatch {
  readonly type: "ManualMatch";
  readonly data: {
    readonly bankAccountId: string;
    readonly matchId: string;
    /** With their amounts as the log holds them (signed: positive is money into the account). */
    readonly externals: readonly ManualItem[];
    readonly internals: readonly ManualItem[];
    readonly currency: string;
    /** Where a difference may go, and the most it may be (the account's tolerance); null: the match must balance. */
    readonly writeOff: { readonly ledgerAccount: string; readonly limitMinor: bigint } | null;
    readonly reason: string | null;
    readonly account: ReconAccount;
    readonly today: string;
  };
}

/** A match's kind from how many items each side holds. */
export function kindOf(externals: number, internals: number): "1:1" | "1:N" | "N:1" | "N:M" {
  if (externals === 1) return internals === 1 ? "1:1" : "1:N";
  return internals === 1 ? "N:1" : "N:M";
}

const abs = (value: bigint): bigint => (value < 0n ? -value : value);

/**
 * A clerk's match of chosen items, confirmed at once. It must balance, or
 * its difference be within the write-off limit. An item in a confirmed
 * match is refused (unmatch that first); suggestions holding its items are
 * rejected in the same append, as superseded.
 */
export function decideManualMatch(command: ManualMatch, state: ReconState): Decision {
  const { bankAccountId, matchId, externals, internals, currency, writeOff, reason, account, today } = command.data;
  if (state.matches.has(matchId)) return { rejected: new TrueupError("MATCH_ALREADY_EXISTS", `match ${matchId} exists`, { path: ["matchId"] }) };
  const superseded = new Set<string>();
  for (const [side, items] of [["external", externals], ["internal", internals]] as const) {
    for (const [index, item] of items.entries()) {
      const holder = state.live.get(itemKey(side, item.id));
      if (holder === undefined) continue;
      if (state.resolved.has(holder)) {
        return { rejected: new TrueupError("MATCH_ITEM_TAKEN", `${side} item ${item.id} was resolved (${holder})`, { path: [`${side}Ids`, index], detail: { itemId: item.id, exceptionId: holder } }) };
      }
      if (state.matches.get(holder)?.status === "confirmed") {
        return { rejected: new TrueupError("MATCH_ITEM_TAKEN", `${side} item ${item.id} is in confirmed match ${holder}; unmatch it first`, { path: [`${side}Ids`, index], detail: { itemId: item.id, matchId: holder } }) };
      }
      superseded.add(holder);
    }
  }
  const difference = externals.reduce((sum, item) => sum + item.amountMinor, 0n) - internals.reduce((sum, item) => sum + item.amountMinor, 0n);
  if (difference !== 0n && (writeOff === null || abs(difference) > writeOff.limitMinor)) {
    const limit = writeOff === null ? "no write-off" : `a write-off of at most ${writeOff.limitMinor}`;
    return { rejected: new TrueupError("MATCH_UNBALANCED", `the items differ by ${difference} minor units; the account allows ${limit}`, { detail: { differenceMinor: difference.toString(), limitMinor: writeOff?.limitMinor.toString() ?? "0" } }) };
  }
  const latest = externals.reduce<string | null>((max, item) => (item.date !== null && (max === null || item.date > max) ? item.date : max), null);
  const writeOffData = difference === 0n || writeOff === null ? null : { amountMinor: difference.toString(), ledgerAccount: writeOff.ledgerAccount, date: latest ?? today };
  const events: MatchEvent[] = [...superseded].sort().map((holder) => {
    const record = state.matches.get(holder);
    assert.ok(record !== undefined, `the live match ${holder} of an item is in the state`);
    return { type: "MatchRejected", data: { bankAccountId, matchId: holder, reason: `superseded by the manual match ${matchId}`, ...reopened(record) } };
  });
  const externalIds = externals.map((item) => item.id);
  const internalIds = internals.map((item) => item.id);
  const kind = kindOf(externalIds.length, internalIds.length);
  events.push({
    type: "MatchProposed",
    data: {
      bankAccountId, matchId, runId: null, kind, externalIds, internalIds, currency, ruleId: null, score: 100,
      criteria: [{ criterion: "manual", grade: "exact", points: 100, reason: reason === null ? "matched by a clerk" : `matched by a clerk: ${reason}` }],
      differenceMinor: difference.toString(),
      writeOff: writeOffData,
      residual: null, ambiguous: false,
      learned: learnedHints(externals, internals),
      autoConfirmed: false,
    },
  });
  events.push({ type: "MatchConfirmed", data: { bankAccountId, matchId, automatic: false } });
  events.push(...writeOffRequest(bankAccountId, matchId, { writeOff: writeOffData }, account, today, currency));
  return { events };
}

export interface RecordRun {
  readonly type: "RecordRun";
  readonly data: Extract<ReconciliationEvent, { type: "ReconciliationRunRecorded" }>["data"];
}

/** A run's record, after its proposals: always accepted (a retry of the run is recognised by its command id). */
export function decideRecordRun(command: RecordRun): Decision {
  return { events: [{ type: "ReconciliationRunRecorded", data: command.data }] };
}

export interface RecordWriteOff {
  readonly type: "RecordWriteOff";
  readonly data:
    | { readonly outcome: "posted"; readonly bankAccountId: string; readonly matchId: string; readonly ledgerId: string; readonly entryId: string }
    | { readonly outcome: "refused"; readonly bankAccountId: string; readonly matchId: string; readonly code: string; readonly message: string }
    | { readonly outcome: "reversed"; readonly bankAccountId: string; readonly matchId: string; readonly ledgerId: string; readonly reversalEntryId: string }
    | { readonly outcome: "reversal-refused"; readonly bankAccountId: string; readonly matchId: string; readonly code: string; readonly message: string };
}

/** The write-off process manager's outcome of a WriteOffRequested (posted, or refused by the ledger) or of a WriteOffReversalRequested. */
export function decideRecordWriteOff(command: RecordWriteOff, state: ReconState): Decision {
  const data = command.data;
  const subject = state.matches.get(data.matchId) ?? state.resolved.get(data.matchId);
  assert.ok(subject?.writeOff != null, `write-off outcome for ${data.matchId}, which carries no write-off`);
  switch (data.outcome) {
    case "posted":
      return { events: [{ type: "WriteOffPosted", data: { bankAccountId: data.bankAccountId, matchId: data.matchId, ledgerId: data.ledgerId, entryId: data.entryId } }] };
    case "refused":
      return { events: [{ type: "WriteOffRefused", data: { bankAccountId: data.bankAccountId, matchId: data.matchId, code: data.code, message: data.message } }] };
    case "reversed":
      return { events: [{ type: "WriteOffReversed", data: { bankAccountId: data.bankAccountId, matchId: data.matchId, ledgerId: data.ledgerId, reversalEntryId: data.reversalEntryId } }] };
    case "reversal-refused":
      return { events: [{ type: "WriteOffReversalRefused", data: { bankAccountId: data.bankAccountId, matchId: data.matchId, code: data.code, message: data.message } }] };
  }
}

export interface ResolveException {
  readonly type: "ResolveException";
  readonly data: {
    readonly bankAccountId: string;
    readonly exceptionId: string;
    readonly kind: "aged" | "duplicate" | "amount-mismatch";
    readonly side: "external" | "internal";
    /** The item as the read models hold it (signed: positive is money into the account). */
    readonly item: ManualItem;
    readonly currency: string;
    readonly resolution:
      | { readonly type: "write-off"; readonly ledgerAccount: string; readonly reason: string | null }
      | { readonly type: "ignore"; readonly reason: string }
      | { readonly type: "reassign"; readonly assignee: string; readonly reason: string | null };
    readonly account: ReconAccount;
    readonly today: string;
  };
}

/**
 * Settles an open item without a match: written off (its amount posted
 * against the chosen account, so the books show what the bank shows or drop
 * what never came; through the write-off process manager), ignored (a
 * clerk's explanation), or handed to someone (the item stays open). Refused
 * when the item is taken meanwhile: in a live match, or resolved already.
 */
export function decideResolveException(command: ResolveException, state: ReconState): Decision {
  const { bankAccountId, exceptionId, kind, side, item, resolution, account, today, currency } = command.data;
  const holder = state.live.get(itemKey(side, item.id));
  if (holder !== undefined) {
    const what = state.resolved.has(holder) ? `was resolved (${holder})` : `is in match ${holder}`;
    return { rejected: new TrueupError("EXCEPTION_NOT_OPEN", `${side} item ${item.id} ${what}`, { detail: { exceptionId, heldBy: holder } }) };
  }
  if (resolution.type === "reassign") {
    return { events: [{ type: "ExceptionReassigned", data: { bankAccountId, exceptionId, assignee: resolution.assignee, reason: resolution.reason } }] };
  }
  if (resolution.type === "ignore") {
    return { events: [{ type: "ItemResolved", data: { bankAccountId, exceptionId, kind, side, itemId: item.id, resolution: "ignore", reason: resolution.reason, writeOff: null } }] };
  }
  // The change to the bank's ledger account: a bank line the books lack is booked as it is; a ledger line the
  // bank never shows is taken back out.
  const amountMinor = (side === "external" ? item.amountMinor : -item.amountMinor).toString();
  const writeOff = { amountMinor, ledgerAccount: resolution.ledgerAccount, date: item.date ?? today };
  const events: MatchEvent[] = [{ type: "ItemResolved", data: { bankAccountId, exceptionId, kind, side, itemId: item.id, resolution: "write-off", reason: resolution.reason, writeOff } }];
  events.push(...writeOffRequest(bankAccountId, exceptionId, { writeOff }, account, today, currency));
  return { events };
}

/** Parses a stored event of a recon stream (through the context's upcasters). */
export function parseMatchEvent(stored: Parameters<typeof parseReconciliationEvent>[0]): MatchEvent {
  const event = parseReconciliationEvent(stored);
  switch (event.type) {
    case "MatchProposed":
    case "MatchConfirmed":
    case "MatchRejected":
    case "MatchUnmatched":
    case "ReconciliationRunRecorded":
    case "WriteOffRequested":
    case "WriteOffPosted":
    case "WriteOffRefused":
    case "WriteOffReversalRequested":
    case "WriteOffReversed":
    case "WriteOffReversalRefused":
    case "ItemResolved":
    case "ExceptionReassigned":
      return event;
    case "ReconciliationPeriodClosed":
      return { type: event.type, data: { ...event.data, statement: jsonValueOf(event.data.statement) } };
    default:
      return { type: "Unrelated", data: { type: event.type } };
  }
}
