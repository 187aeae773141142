// An account's balance from the event log, for a decision (its close): the
// ledger stream lists the periods that have entries (PeriodListed), and each
// listed period's stream is read in full. Never from a read model, which may
// lag (DESIGN.md: decisions read the log).
//
// Cost: every entry of the ledger is read once per close. Closes are rare
// and a ledger's entries are bounded by what its period streams hold; the
// pages are PERIOD_READ_PAGE_SIZE events, so memory stays bounded by one page.
import { parseLedgerEvent, periodStream } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import { StreamNotFoundError } from "@trueup/event-store";
import { addAccountTotals } from "./decider.ts";
import type { AccountBalance } from "./decider.ts";

/** Events read per page from a period stream. */
export const PERIOD_READ_PAGE_SIZE = 1_000;

export async function readAccountBalance(options: { store: EventStore; ledgerId: string; code: string; periods: ReadonlySet<string> }): Promise<AccountBalance> {
  const { store, ledgerId, code, periods } = options;
  const totals = new Map<string, { debitMinor: bigint; creditMinor: bigint }>();
  for (const period of periods) {
    const stream = periodStream(ledgerId, period);
    for (let from = 0n; ; ) {
      const page = await store.readStream(stream, { fromRevision: from, maxCount: PERIOD_READ_PAGE_SIZE }).catch((error: unknown) => {
        // Listed, but its first posting never landed (a crash or a refusal after the listing): no entries.
        if (error instanceof StreamNotFoundError) return [];
        throw error;
      });
      addAccountTotals(totals, page.map((e) => parseLedgerEvent(e)), code);
      const last = page.at(-1);
      if (last === undefined || page.length < PERIOD_READ_PAGE_SIZE) break;
      from = last.revision + 1n;
    }
  }
  return { periods: new Set(periods), totals: [...totals].map(([currency, t]) => ({ currency, ...t })) };
}
