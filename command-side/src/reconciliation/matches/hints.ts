// Learned hints: what a clerk's manual match teaches later runs. A match
// of a statement line from "ACME GMBH" against an entry booked to 4000 says
// that ACME's money goes to 4000; the engine scores a later pair that
// agrees (the counterparty's name or IBAN, an entry against that account)
// a little higher and says why ("counterparty ACME was matched to account
// 4000 before (2 times)"). Learned from manual matches only: confirming a
// run's own suggestion would teach the engine what it already believed.
// The recon stream's state keeps the counts (decider.ts); an unmatch takes
// its match's lesson back.
import { MATCH_HINT_COUNTERPARTY_LENGTH_MAX, MATCH_LEARNED_HINTS_MAX } from "@trueup/contracts";
import { ibanKey, nameKey } from "../matching/index.ts";
import type { CounterpartyHint } from "../matching/types.ts";
import type { BucketMap } from "./bucket-map.ts";

export interface LearnedHint {
  readonly counterparty: string;
  readonly ledgerAccount: string;
}

/** What a manual match's items say about their counterparty, as the items reader finds them. */
export interface HintSource {
  readonly counterpartyName?: string | null;
  readonly counterpartyIban?: string | null;
  /** For a ledger line: the other accounts of its entry. */
  readonly contraAccounts?: readonly string[];
}

/**
 * Every (counterparty, account) pair a manual match teaches: each external
 * item's name key and IBAN against each ledger account the internal items'
 * entries booked against. Sorted and distinct, so the same match teaches
 * the same lesson whatever order the clerk listed its items in; at most
 * MATCH_LEARNED_HINTS_MAX (the first in that order).
 */
export function learnedHints(externals: readonly HintSource[], internals: readonly HintSource[]): LearnedHint[] {
  const counterparties = new Set<string>();
  for (const item of externals) {
    const name = nameKey(item.counterpartyName ?? null);
    if (name !== null) counterparties.add(name);
    const iban = ibanKey(item.counterpartyIban ?? null);
    if (iban !== null && iban !== "") counterparties.add(iban);
  }
  const accounts = new Set(internals.flatMap((item) => item.contraAccounts ?? []));
  const pairs = new Map<string, LearnedHint>();
  for (const counterparty of counterparties) {
    if (counterparty.length > MATCH_HINT_COUNTERPARTY_LENGTH_MAX) continue;
    for (const ledgerAccount of accounts) pairs.set(hintKey({ counterparty, ledgerAccount }), { counterparty, ledgerAccount });
  }
  return [...pairs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, MATCH_LEARNED_HINTS_MAX).map(([, hint]) => hint);
}

/** A hint's key in the recon state's counts; a newline occurs in neither part. */
export function hintKey(hint: LearnedHint): string {
  return `${hint.counterparty}\n${hint.ledgerAccount}`;
}

/** The counts the state keeps, as the engine takes them. In key order: the engine's input, and so its output, never depends on the log's order. */
export function engineHints(counts: BucketMap<number>): CounterpartyHint[] {
  const hints: CounterpartyHint[] = [];
  for (const [key, confirmations] of counts.entries()) {
    const at = key.indexOf("\n");
    hints.push({ counterparty: key.slice(0, at), ledgerAccount: key.slice(at + 1), confirmations });
  }
  return hints.sort((a, b) => (a.counterparty < b.counterparty ? -1 : a.counterparty > b.counterparty ? 1 : a.ledgerAccount < b.ledgerAccount ? -1 : a.ledgerAccount > b.ledgerAccount ? 1 : 0));
}
