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
    apply: async (tx, events, schemaName) => {
      const started = await startedAt(tx, schemaName);
      const pending = new Map<string, Pending>();
      for (const event of events) {
        if (event.type === "BankAccountRegistered") {
          const parsed = parseReconciliationEvent(event);
          if (parsed.type !== "BankAccountRegistered") continue;
          const { bankAccountId, ledgerId, ledgerAccount } = parsed.data;
          await tx.query(
            `INSERT INTO ${qualified(schemaName, "links")} (bank_account_id, ledger_id, ledger_account) VALUES ($1, $2, $3)
             ON CONFLICT (bank_account_id) DO UPDATE SET ledger_id = EXCLUDED.ledger_id, ledger_account = EXCLUDED.ledger_account`,
            [bankAccountId, ledgerId, ledgerAccount],
          );
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
        const parsed = parseLedgerEvent(event);
        if (parsed.type !== "JournalEntryPosted" || parsed.data.metadata[WRITE_OFF_METADATA_KEY] !== undefined) continue;
        const accounts = [...new Set(parsed.data.lines.map((line) => line.accountCode))];
        const { rows } = await tx.query<{ bank_account_id: string }>(
          `SELECT bank_account_id FROM ${qualified(schemaName, "links")} WHERE ledger_id = $1 AND ledger_account = ANY($2::text[]) ORDER BY bank_account_id`,
          [parsed.data.ledgerId, accounts],
        );
        for (const row of rows) widen(pending, row.bank_account_id, event, { from: parsed.data.effectiveDate, to: parsed.data.effectiveDate });
      }
      if (pending.size === 0) return;
      const wanted: string[] = [];
      for (const bankAccountId of [...pending.keys()].sort()) {
        if (await port.enabled(bankAccountId)) wanted.push(bankAccountId);
        else await recordEffect(tx, schemaName, pending.get(bankAccountId)?.last.position ?? "", bankAccountId, { outcome: "off" });
      }
      if (wanted.length === 0) return;
      const last = events[events.length - 1];
      if (last !== undefined) await waitForReadModels(port, last.position, options);
      for (const bankAccountId of wanted) {
        const p = pending.get(bankAccountId);
        if (p === undefined) continue;
        const dates = p.unbounded || p.from === null || p.to === null ? null : { from: p.from, to: p.to };
        const outcome = await port.run({ bankAccountId, dates, eventId: p.last.eventId, correlationId: p.last.metadata.correlationId, occurredAt: p.last.recordedAt });
        await recordEffect(tx, schemaName, p.last.position, bankAccountId, outcome);
      }
    },
    onUnprojectable: () => "stop",
  };
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
