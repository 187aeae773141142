// Bench events: small, realistic ledger payloads (a balanced two-line journal
// entry, amounts as decimal strings in minor units) with the full audit
// metadata, so every store under test stores the same bytes.
import { randomUUID } from "node:crypto";
import { newEventId } from "@trueup/contracts";
import type { EventId, EventMetadata, JsonValue } from "@trueup/contracts";

export interface BenchEvent {
  readonly eventId: EventId;
  readonly type: string;
  readonly schemaVersion: 1;
  readonly data: Record<string, JsonValue>;
  readonly metadata: EventMetadata;
}

const CURRENCIES = ["EUR", "USD", "GBP", "CHF"] as const;
const ACCOUNTS = ["1000-cash", "1200-receivables", "2000-payables", "4000-revenue", "6000-expenses", "1100-bank"] as const;

/** The `sequence`-th event of a run; ids are random, the rest varies deterministically. */
export function ledgerEvent(sequence: number, ledgerId: string): BenchEvent {
  const amountMinor = (1_000n + BigInt((sequence * 7_919) % 9_999_000)).toString();
  const currency = CURRENCIES[sequence % CURRENCIES.length] ?? "EUR";
  const debitAccount = ACCOUNTS[sequence % ACCOUNTS.length] ?? "1000-cash";
  const creditAccount = ACCOUNTS[(sequence + 3) % ACCOUNTS.length] ?? "4000-revenue";
  const commandId = randomUUID();
  return {
    eventId: newEventId(),
    type: "JournalEntryPosted",
    schemaVersion: 1,
    data: {
      ledgerId,
      entryId: `je-${sequence}`,
      effectiveDate: "2025-03-31",
      description: `Invoice INV-${100_000 + (sequence % 900_000)} settled`,
      lines: [
        { accountId: debitAccount, side: "debit", amountMinor, currency },
        { accountId: creditAccount, side: "credit", amountMinor, currency },
      ],
    },
    metadata: {
      actor: "user:bench",
      correlationId: commandId,
      causationId: commandId,
      commandId,
      occurredAt: new Date(Date.UTC(2025, 2, 31, 12, 0, 0) + sequence).toISOString(),
    },
  };
}

export function ledgerEvents(options: { firstSequence: number; count: number; ledgerId: string }): BenchEvent[] {
  return Array.from({ length: options.count }, (_, i) => ledgerEvent(options.firstSequence + i, options.ledgerId));
}
