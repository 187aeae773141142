// Signing off a bank account's month: decided against the recon stream's
// state (which items are matched, resolved, suggested, and where each
// write-off stands), on the items the read models hold (facts: ids, dates,
// amounts) and the bank's and the books' balances at the period's end.
// It closes only when every item dated up to the period's end is matched
// (confirmed), written off (its entry posted) or explained (ignored), and
// the bank reconciliation statement then shows no difference; the
// statement is kept in the event, and the period's matches are locked
// (decideMatchDecision refuses their unmatch). Pure.
import { TrueupError, buildReconciliationStatement, jsonValueOf } from "@trueup/contracts";
import type { ReconciliationItem } from "@trueup/contracts";
import type { Decision } from "../../decision.ts";
import { itemKey, writeOffEntryId } from "../matches/decider.ts";
import type { MatchEvent, ReconAccount, ReconState } from "../matches/decider.ts";

/** Reconciling and explained lines one statement may hold (it is kept whole in its event). */
export const STATEMENT_ITEMS_MAX = 10_000;
/** Items named in a refusal's detail: enough to start on, not the whole book. */
const BLOCKING_LISTED_MAX = 20;

export interface PeriodItem {
  readonly side: "external" | "internal";
  readonly id: string;
  readonly date: string;
  /** Signed: positive is money into the bank account. */
  readonly amountMinor: bigint;
  readonly description: string | null;
}

export interface ClosePeriod {
  readonly type: "ClosePeriod";
  readonly data: {
    readonly bankAccountId: string;
    readonly bankAccountName: string;
    readonly currency: string;
    readonly account: ReconAccount;
    readonly period: string;
    readonly periodEnd: string;
    readonly today: string;
    readonly bankBalance: { readonly amountMinor: bigint; readonly date: string; readonly source: string } | null;
    readonly bookBalanceMinor: bigint;
    /** Every dated item of the account, of any date (a match's items after the period end date its counterpart). */
    readonly items: readonly PeriodItem[];
  };
}

interface Blocking { readonly side: string; readonly itemId: string; readonly why: "open" | "suggested" | "write-off pending" | "write-off refused" | "write-off reversal pending" | "write-off reversal refused" }

export function decideClosePeriod(command: ClosePeriod, state: ReconState): Decision<MatchEvent> {
  const { bankAccountId, period, periodEnd, today, items } = command.data;
  if (today <= periodEnd) return { rejected: new TrueupError("RECONCILIATION_PERIOD_NOT_ENDED", `period ${period} ends on ${periodEnd}; sign it off from the next day`) };
  if (state.closedThrough !== null && periodEnd <= state.closedThrough) {
    return { rejected: new TrueupError("RECONCILIATION_PERIOD_ALREADY_CLOSED", `bank account ${bankAccountId} is signed off through ${state.closedThrough}`, { detail: { closedThrough: state.closedThrough } }) };
  }
  const dates = new Map(items.map((item) => [itemKey(item.side, item.id), item.date]));
  const periodStart = `${period}-01`;
  const blocking: Blocking[] = [];
  const lines: ReconciliationItem[] = [];
  let cleared = 0;
  for (const item of items) {
    if (item.date > periodEnd) continue;
    const holder = state.live.get(itemKey(item.side, item.id));
    const base = { side: item.side, itemId: item.id, date: item.date, amountMinor: item.amountMinor, description: item.description };
    if (holder === undefined) {
      blocking.push({ side: item.side, itemId: item.id, why: "open" });
      continue;
    }
    const resolution = state.resolved.get(holder);
    if (resolution !== undefined) {
      if (resolution.resolution === "write-off" && resolution.writeOffState !== "posted") blocking.push({ side: item.side, itemId: item.id, why: resolution.writeOffState === "refused" ? "write-off refused" : "write-off pending" });
      // Explained items of this period are listed; older ones were listed when their period was signed off.
      else if (item.date >= periodStart) lines.push({ ...base, status: resolution.resolution === "ignore" ? "ignored" : "written-off", counterpartDate: null, matchId: holder });
      continue;
    }
    const match = state.matches.get(holder);
    if (match?.status !== "confirmed") {
      blocking.push({ side: item.side, itemId: item.id, why: "suggested" });
      continue;
    }
    if (match.writeOff !== null && match.writeOffState !== "posted") {
      blocking.push({ side: item.side, itemId: item.id, why: match.writeOffState === "refused" ? "write-off refused" : "write-off pending" });
      continue;
    }
    const others = item.side === "external" ? match.internalIds.map((id) => dates.get(itemKey("internal", id))) : match.externalIds.map((id) => dates.get(itemKey("external", id)));
    const counterpartDate = others.reduce<string | null>((latest, date) => (date !== undefined && (latest === null || date > latest) ? date : latest), null);
    if (counterpartDate !== null && counterpartDate <= periodEnd) {
      cleared += 1;
      continue;
    }
    lines.push({ ...base, status: "matched", counterpartDate, matchId: holder });
  }
  // An unmatched match's write-off still in the books (its reversal pending, or refused) would leave the books off.
  for (const [matchId, match] of state.matches.entries()) {
    if (match.writeOff === null || (match.writeOffState !== "reversing" && match.writeOffState !== "reversal-refused")) continue;
    if ((match.writeOff.date ?? periodEnd) > periodEnd) continue;
    blocking.push({ side: "internal", itemId: writeOffEntryId(matchId), why: match.writeOffState === "reversing" ? "write-off reversal pending" : "write-off reversal refused" });
  }
  if (blocking.length > 0) {
    const byReason: Record<string, number> = {};
    for (const b of blocking) byReason[b.why] = (byReason[b.why] ?? 0) + 1;
    const summary = Object.entries(byReason).map(([why, n]) => `${n} ${why}`).join(", ");
    return {
      rejected: new TrueupError("RECONCILIATION_PERIOD_NOT_RECONCILED", `${blocking.length} items dated up to ${periodEnd} are not settled (${summary})`, {
        detail: { byReason, items: blocking.slice(0, BLOCKING_LISTED_MAX) },
      }),
    };
  }
  if (lines.length > STATEMENT_ITEMS_MAX) return { rejected: new TrueupError("RECONCILIATION_STATEMENT_TOO_LARGE", `${lines.length} reconciling and explained items; a statement holds at most ${STATEMENT_ITEMS_MAX}`) };
  const { bankAccountName, currency, account, bankBalance, bookBalanceMinor } = command.data;
  const built = buildReconciliationStatement({
    bankAccountId, bankAccountName, currency, ledgerId: account.ledgerId, ledgerAccount: account.ledgerAccount, period, periodEnd, bankBalance, bookBalanceMinor, items: lines,
  });
  // Items matched within the period are not passed to the statement (a month may hold hundreds of thousands); its counts say how many there were.
  const statement = { ...built, counts: { ...built.counts, items: built.counts.items + cleared, cleared: built.counts.cleared + cleared } };
  if (!statement.balanced) {
    const why = statement.difference === null ? statement.problems.join("; ") : `the adjusted bank balance differs from the adjusted book balance by ${statement.difference} ${currency}`;
    return { rejected: new TrueupError("RECONCILIATION_STATEMENT_UNBALANCED", `period ${period} cannot be signed off: ${why}`, { detail: { difference: statement.difference, cleared, statement: jsonValueOf(statement) } }) };
  }
  return { events: [{ type: "ReconciliationPeriodClosed", data: { bankAccountId, period, periodEnd, statement: jsonValueOf(statement) } }] };
}
