// The continuous-matching process manager: watches imports and postings and
// hands each affected bank account, once per batch, to a run
// (command-side/src/reconciliation/continuous/process.ts says what the run
// does). A projection, like the write-off process manager, so it has a
// checkpoint, retries, dead letters, lag metrics and /ready.
//
// - A statement imported with new lines triggers its bank account; a
//   posting triggers every bank account linked to one of its lines' ledger
//   accounts (the links come from BankAccountRegistered, kept in its own
//   table in the same transaction as the checkpoint). A write-off's entry
//   (metadata WRITE_OFF_METADATA_KEY) is a match's difference, not an item:
//   it triggers nothing.
// - A run reads its items from the read models, so before running the
//   batch waits (bounded) until they have applied the log through the
//   batch's last event; behind for longer, the batch is retried later.
// - Events recorded before this process manager first started trigger
//   nothing: turning it on over an existing log must not start a run for
//   every statement ever imported. The links are still learned from them.
// - One run per bank account per batch (at most CONTINUOUS_BATCH_EVENTS_MAX
//   events), accounts in id order, each outcome kept in `effects`.
import { WRITE_OFF_METADATA_KEY, parseLedgerEvent, parseReconciliationEvent } from "@trueup/contracts";
import type { JsonValue } from "@trueup/contracts";
import { StoreUnavailableError } from "@trueup/event-store";
import type { RecordedEvent } from "@trueup/event-store";
import type pg from "pg";
import type { PostgresProjection } from "./postgres/definition.ts";
import { qualified } from "./postgres/definition.ts";

export interface ContinuousTriggerOf {
  readonly bankAccountId: string;
  readonly dates: { readonly from: string; readonly to: string } | null;
  readonly eventId: string;
  readonly correlationId: string;
  readonly occurredAt: Date;
}

export interface ContinuousMatchingPort {
  /** Whether the account's rules want continuous runs (read before waiting on the read models, so a switched-off account costs no wait). */
  enabled(bankAccountId: string): Promise<boolean>;
  /** True once the read models the runs read have applied the log through `position`. */
  readModelsAt(position: string): Promise<boolean>;
  /** Runs matching for one account; what it did, as JSON. Throws StoreUnavailableError for "try again". */
  run(trigger: ContinuousTriggerOf): Promise<JsonValue>;
}

export interface ContinuousMatchingOptions {
  /** How long a batch waits for the read models before it is retried (default 15 s). */
  readonly readModelWaitMs?: number;
  readonly pollMs?: number;
}

export const CONTINUOUS_MATCHING_NAME = "continuous-matching";

/**
 * Events per batch. Larger than the write-off manager's: a batch costs one
 * run per affected account whatever its size, so a backlog (a burst of
 * postings, a restart) is worked off in few runs rather than one per 50
 * postings.
 */
export const CONTINUOUS_BATCH_EVENTS_MAX = 1_000;

const EVENT_TYPES = ["BankAccountRegistered", "StatementImported", "JournalEntryPosted"] as const;

interface Pending {
  from: string | null;
  to: string | null;
  /** Some trigger had no dates: the whole account. */
  unbounded: boolean;
  last: RecordedEvent;
}

function widen(pending: Map<string, Pending>, bankAccountId: string, event: RecordedEvent, dates: { from: string; to: string } | null): void {
  const known = pending.get(bankAccountId);
  if (known === undefined) {
    pending.set(bankAccountId, { from: dates?.from ?? null, to: dates?.to ?? null, unbounded: dates === null, last: event });
    return;
  }
  known.last = event;
  if (dates === null) known.unbounded = true;
  else {
    if (known.from === null || dates.from < known.from) known.from = dates.from;
    if (known.to === null || dates.to > known.to) known.to = dates.to;
  }
}

async function waitForReadModels(port: ContinuousMatchingPort, position: string, options: ContinuousMatchingOptions): Promise<void> {
  const deadline = Date.now() + (options.readModelWaitMs ?? 15_000);
  while (!(await port.readModelsAt(position))) {
    if (Date.now() > deadline) throw new StoreUnavailableError(`continuous matching: the read models have not reached ${position} yet; the batch is retried`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
  }
}

export function continuousMatchingProjection(port: ContinuousMatchingPort, options: ContinuousMatchingOptions = {}): PostgresProjection<readonly RecordedEvent[]> {
  return {
    name: CONTINUOUS_MATCHING_NAME,
    // Like every process manager, never rebuilt from zero (process-manager.ts).
    version: 1,
    kind: "postgres",
    schemaName: "pm_continuous",
    filter: { eventTypes: [...EVENT_TYPES] },
    batchSizeMax: CONTINUOUS_BATCH_EVENTS_MAX,
    ddl: (schemaName) => [
      `CREATE TABLE ${qualified(schemaName, "links")} (
         bank_account_id text COLLATE "C" PRIMARY KEY,
         ledger_id text COLLATE "C" NOT NULL,
         ledger_account text COLLATE "C" NOT NULL)`,
      `CREATE INDEX ON ${qualified(schemaName, "links")} (ledger_id, ledger_account)`,
      `CREATE TABLE ${qualified(schemaName, "started")} (at timestamptz NOT NULL)`,
      `INSERT INTO ${qualified(schemaName, "started")} VALUES (now())`,
      `CREATE TABLE ${qualified(schemaName, "effects")} (
         position text COLLATE "C" NOT NULL,
         bank_account_id text COLLATE "C" NOT NULL,
         outcome jsonb NOT NULL,
         handled_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (position, bank_account_id))`,
    ],
    plan: (events) => events,
    // Reads first, writes last: the transaction gets its xid (and holds back later events from every reader,
    // lockCheckpoint says why) only with the links and effects written after the runs, not while waiting for
    // the read models or running.
    apply: async (tx, events, schemaName) => {
      const started = await startedAt(tx, schemaName);
      const links = await BatchLinks.load(tx, schemaName, events);
      const pending = new Map<string, Pending>();
      for (const event of events) {
        if (event.type === "BankAccountRegistered") {
          const parsed = parseReconciliationEvent(event);
          if (parsed.type === "BankAccountRegistered") links.register(parsed.data);
          continue;
        }
        if (event.recordedAt < started) continue;
        if (event.type === "StatementImported") {
          const parsed = parseReconciliationEvent(event);
          if (parsed.type !== "StatementImported" || parsed.data.newLines === 0) continue;
          const { periodStart, periodEnd } = parsed.data;
          widen(pending, parsed.data.bankAccountId, event, periodStart !== null && periodEnd !== null && periodStart <= periodEnd ? { from: periodStart, to: periodEnd } : null);
          continue;
        }
        const posting = postingOf(event);
        if (posting === undefined) continue;
        for (const bankAccountId of links.linkedTo(posting.ledgerId, posting.accounts)) {
          widen(pending, bankAccountId, event, { from: posting.effectiveDate, to: posting.effectiveDate });
        }
      }
      const effects: { position: string; bankAccountId: string; outcome: JsonValue }[] = [];
      const wanted: string[] = [];
      for (const bankAccountId of [...pending.keys()].sort()) {
        if (await port.enabled(bankAccountId)) wanted.push(bankAccountId);
        else effects.push({ position: pending.get(bankAccountId)?.last.position ?? "", bankAccountId, outcome: { outcome: "off" } });
      }
      const last = events[events.length - 1];
      if (wanted.length > 0 && last !== undefined) await waitForReadModels(port, last.position, options);
      for (const bankAccountId of wanted) {
        const p = pending.get(bankAccountId);
        if (p === undefined) continue;
        const dates = p.unbounded || p.from === null || p.to === null ? null : { from: p.from, to: p.to };
        const outcome = await port.run({ bankAccountId, dates, eventId: p.last.eventId, correlationId: p.last.metadata.correlationId, occurredAt: p.last.recordedAt });
        effects.push({ position: p.last.position, bankAccountId, outcome });
      }
      await links.write(tx);
      for (const effect of effects) await recordEffect(tx, schemaName, effect.position, effect.bankAccountId, effect.outcome);
    },
    onUnprojectable: () => "stop",
  };
}

/** A posting's ledger and accounts, unless it is a write-off's entry (a match's difference, not an item). */
function postingOf(event: RecordedEvent): { ledgerId: string; accounts: string[]; effectiveDate: string } | undefined {
  if (event.type !== "JournalEntryPosted") return undefined;
  const parsed = parseLedgerEvent(event);
  if (parsed.type !== "JournalEntryPosted" || parsed.data.metadata[WRITE_OFF_METADATA_KEY] !== undefined) return undefined;
  return { ledgerId: parsed.data.ledgerId, accounts: [...new Set(parsed.data.lines.map((line) => line.accountCode))], effectiveDate: parsed.data.effectiveDate };
}

const pairKey = (ledgerId: string, ledgerAccount: string): string => JSON.stringify([ledgerId, ledgerAccount]);

/**
 * The bank accounts linked to the ledger accounts a batch posts to: read in
 * one query before the batch, then changed in log order by the batch's own
 * registrations, which are written with its effects (`write`).
 */
class BatchLinks {
  private readonly byPair = new Map<string, Set<string>>();
  private readonly byAccount = new Map<string, string>();
  private readonly registered = new Map<string, { ledgerId: string; ledgerAccount: string }>();

  private constructor(private readonly schemaName: string) {}

  static async load(tx: pg.PoolClient, schemaName: string, events: readonly RecordedEvent[]): Promise<BatchLinks> {
    const links = new BatchLinks(schemaName);
    const ledgerIds: string[] = [];
    const accounts: string[] = [];
    const seen = new Set<string>();
    for (const event of events) {
      const posting = postingOf(event);
      for (const account of posting?.accounts ?? []) {
        const key = pairKey(posting?.ledgerId ?? "", account);
        if (posting === undefined || seen.has(key)) continue;
        seen.add(key);
        ledgerIds.push(posting.ledgerId);
        accounts.push(account);
      }
    }
    if (ledgerIds.length === 0) return links;
    const { rows } = await tx.query<{ bank_account_id: string; ledger_id: string; ledger_account: string }>(
      `SELECT l.bank_account_id, l.ledger_id, l.ledger_account FROM ${qualified(schemaName, "links")} l
        JOIN unnest($1::text[], $2::text[]) AS p(ledger_id, ledger_account) ON l.ledger_id = p.ledger_id AND l.ledger_account = p.ledger_account`,
      [ledgerIds, accounts],
    );
    for (const row of rows) links.link(row.bank_account_id, row.ledger_id, row.ledger_account);
    return links;
  }

  register(link: { readonly bankAccountId: string; readonly ledgerId: string; readonly ledgerAccount: string }): void {
    this.link(link.bankAccountId, link.ledgerId, link.ledgerAccount);
    this.registered.set(link.bankAccountId, { ledgerId: link.ledgerId, ledgerAccount: link.ledgerAccount });
  }

  /** Linked bank accounts, in id order. */
  linkedTo(ledgerId: string, ledgerAccounts: readonly string[]): string[] {
    const found = new Set<string>();
    for (const account of ledgerAccounts) for (const id of this.byPair.get(pairKey(ledgerId, account)) ?? []) found.add(id);
    return [...found].sort();
  }

  /** The batch's registrations, each bank account's last. */
  async write(tx: pg.PoolClient): Promise<void> {
    if (this.registered.size === 0) return;
    const ids = [...this.registered.keys()];
    const links = [...this.registered.values()];
    await tx.query(
      `INSERT INTO ${qualified(this.schemaName, "links")} (bank_account_id, ledger_id, ledger_account)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (bank_account_id) DO UPDATE SET ledger_id = EXCLUDED.ledger_id, ledger_account = EXCLUDED.ledger_account`,
      [ids, links.map((l) => l.ledgerId), links.map((l) => l.ledgerAccount)],
    );
  }

  private link(bankAccountId: string, ledgerId: string, ledgerAccount: string): void {
    const old = this.byAccount.get(bankAccountId);
    if (old !== undefined) this.byPair.get(old)?.delete(bankAccountId);
    const key = pairKey(ledgerId, ledgerAccount);
    this.byAccount.set(bankAccountId, key);
    const ids = this.byPair.get(key) ?? new Set<string>();
    ids.add(bankAccountId);
    this.byPair.set(key, ids);
  }
}

async function recordEffect(tx: pg.PoolClient, schemaName: string, position: string, bankAccountId: string, outcome: JsonValue): Promise<void> {
  await tx.query(
    `INSERT INTO ${qualified(schemaName, "effects")} (position, bank_account_id, outcome) VALUES ($1, $2, $3)
     ON CONFLICT (position, bank_account_id) DO UPDATE SET outcome = EXCLUDED.outcome, handled_at = now()`,
    [position, bankAccountId, JSON.stringify(outcome)],
  );
}

async function startedAt(tx: pg.PoolClient, schemaName: string): Promise<Date> {
  const { rows } = await tx.query<{ at: Date }>(`SELECT at FROM ${qualified(schemaName, "started")} LIMIT 1`);
  return rows[0]?.at ?? new Date(0);
}
