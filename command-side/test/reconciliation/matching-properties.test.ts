// Proves the matching engine's invariants over thousands of generated books
// (fast-check), with amounts, dates, references and names drawn from small
// sets so that collisions, ties and competing candidates are the rule:
// - no item is in two proposals, and every proposal's items exist;
// - every proposal balances, or carries its write-off within the tolerance,
//   or is a partial match whose residual is exactly the difference;
// - the output is the same, byte for byte, whatever the order of the input;
// - two equally good candidates are flagged as ambiguous, never auto-confirmed;
// - a search cut short by a bound says so: when tight limits change the
//   output, the output names a bound;
// - the pair search's score-only evaluation (pairScore) accepts exactly the
//   pairs the full evaluation accepts, with the same score.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { proposeMatches } from "../../src/reconciliation/matching/index.ts";
import type { ExternalItem, InternalItem, MatchResult } from "../../src/reconciliation/matching/index.ts";
import { Vocabulary, invoicePatterns, prepareExternal, prepareInternal } from "../../src/reconciliation/matching/prepare.ts";
import { evaluatePair, pairScore, scoringContext } from "../../src/reconciliation/matching/score.ts";
import type { PairRule } from "../../src/reconciliation/matching/score.ts";
import { ALL_RULES, ext, int } from "./matching-support.ts";

const TOLERANCE_MINOR = 500n;

const date = fc.integer({ min: 1, max: 12 }).map((d) => `2026-03-${String(d).padStart(2, "0")}`);
const amount = fc
  .tuple(fc.integer({ min: -6, max: 6 }).filter((n) => n !== 0), fc.constantFrom(0, 0, 0, 300, -300, 2_000, 5_000))
  .map(([units, drift]) => BigInt(units * 10_000 + drift));
const reference = fc.constantFrom(null, null, "R-1001", "R-1002", "R-1003", "INV-20260001");
const name = fc.constantFrom(null, "Acme", "ACME GmbH", "Beta Stores", "Gamma AG", "Acme Beta");

const externalItem = fc.record({ amountMinor: amount, date, endToEndId: reference, counterpartyName: name, booked: fc.boolean() });
const internalItem = fc.record({ amountMinor: amount, date, reference, counterpartyName: name, inDescription: fc.boolean() });

const book = fc
  .record({ external: fc.array(externalItem, { maxLength: 18 }), internal: fc.array(internalItem, { maxLength: 18 }) })
  .map(({ external, internal }) => ({
    external: external.map((e, k): ExternalItem => ({
      ...ext(`e${String(k).padStart(2, "0")}`, "0.00", e.date, { endToEndId: e.endToEndId, counterpartyName: e.counterpartyName }),
      amountMinor: e.amountMinor,
      bookingDate: e.booked ? e.date : null,
    })),
    internal: internal.map((i, k): InternalItem => ({
      ...int(`i${String(k).padStart(2, "0")}`, "0.00", i.date, {
        reference: i.reference,
        counterpartyName: i.inDescription ? null : i.counterpartyName,
        description: i.inDescription && i.counterpartyName !== null ? `Payment ${i.counterpartyName}` : null,
      }),
      amountMinor: i.amountMinor,
    })),
  }));

const json = (result: MatchResult): string => JSON.stringify(result, (_, value: unknown) => (typeof value === "bigint" ? `${value}n` : value));

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed >>> 0 || 1;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

describe("matching engine invariants", () => {
  it("never puts an item in two proposals, and every proposal balances or says why not", () => {
    fc.assert(
      fc.property(book, ({ external, internal }) => {
        const result = proposeMatches({ external, internal, rules: ALL_RULES });
        const amounts = new Map<string, bigint>([...external, ...internal].map((item) => [item.id, item.amountMinor]));
        const seen = new Set<string>();
        for (const p of result.proposals) {
          for (const id of [...p.externalIds, ...p.internalIds]) {
            expect(amounts.has(id)).toBe(true);
            expect(seen.has(id)).toBe(false);
            seen.add(id);
          }
          const total = (ids: readonly string[]) => ids.reduce((s, id) => s + (amounts.get(id) ?? 0n), 0n);
          const difference = total(p.externalIds) - total(p.internalIds);
          expect(p.differenceMinor).toBe(difference);
          if (difference === 0n) continue;
          if (p.residual !== null) {
            expect(p.residual.side === "external" ? p.residual.amountMinor : -p.residual.amountMinor).toBe(difference);
            expect(p.autoConfirm).toBe(false);
          } else {
            expect(p.writeOff).toEqual({ amountMinor: difference, ledgerAccount: "6800" });
            expect(difference <= TOLERANCE_MINOR && difference >= -TOLERANCE_MINOR).toBe(true);
          }
        }
        for (const p of result.proposals) if (p.autoConfirm) expect(p.score >= 90 && p.ambiguity === null && p.residual === null).toBe(true);
        // Every item is either in a proposal or has its near-miss entry.
        const missed = new Set(result.nearMisses.map((m) => m.itemId));
        for (const id of amounts.keys()) expect(seen.has(id) !== missed.has(id)).toBe(true);
      }),
      { numRuns: 1_500 },
    );
  });

  it("gives the same output whatever the order of the items", () => {
    fc.assert(
      fc.property(book, fc.integer(), ({ external, internal }, seed) => {
        const once = proposeMatches({ external, internal, rules: ALL_RULES });
        const again = proposeMatches({ external: shuffled(external, seed), internal: shuffled(internal, seed ^ 0x5bd1e995), rules: ALL_RULES });
        expect(json(again)).toBe(json(once));
      }),
      { numRuns: 1_000 },
    );
  });

  it("flags two equally good candidates, whatever else is in the book", () => {
    fc.assert(
      fc.property(book, date, fc.boolean(), ({ external, internal }, day, twoExternals) => {
        // A unique amount nothing else can sum to or tolerate: the only candidates are the twins.
        const unique = 98_765_432n;
        const extra = twoExternals
          ? { external: [{ ...ext("x1", "0.00", day), amountMinor: unique }, { ...ext("x2", "0.00", day), amountMinor: unique }], internal: [{ ...int("y1", "0.00", day), amountMinor: unique }] }
          : { external: [{ ...ext("x1", "0.00", day), amountMinor: unique }], internal: [{ ...int("y1", "0.00", day), amountMinor: unique }, { ...int("y2", "0.00", day), amountMinor: unique }] };
        const result = proposeMatches({ external: [...external, ...extra.external], internal: [...internal, ...extra.internal], rules: ALL_RULES });
        const twin = result.proposals.find((p) => p.externalIds.some((id) => id.startsWith("x")));
        expect(twin?.kind).toBe("1:1");
        expect(twin?.ambiguity).not.toBeNull();
        expect(twin?.autoConfirm).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("scores a pair for the search exactly as its full evaluation does", () => {
    const rules = ALL_RULES.rules.filter((rule): rule is PairRule => rule.kind !== "group");
    const hints = [
      { counterparty: "ACME", ledgerAccount: "1400", confirmations: 2 },
      { counterparty: "DE89370400440532013000", ledgerAccount: "8400", confirmations: 1 },
    ];
    fc.assert(
      fc.property(book, fc.boolean(), ({ external, internal }, hinted) => {
        const ctx = scoringContext(ALL_RULES, hinted ? hints : []);
        const vocabulary = new Vocabulary();
        const patterns = invoicePatterns(ALL_RULES);
        const externals = prepareExternal(external.map((e, k) => (k % 2 === 0 ? { ...e, counterpartyIban: "DE89 3704 0044 0532 0130 00" } : e)), patterns, vocabulary);
        const internals = prepareInternal(internal.map((i, k) => ({ ...i, counterpartyIban: k % 3 === 0 ? "DE89370400440532013000" : null, contraAccounts: k % 2 === 0 ? ["1400"] : ["8400", "1600"] })), patterns, vocabulary);
        for (const e of externals) {
          for (const i of internals) {
            const verdict = evaluatePair(ctx, rules, e, i);
            expect(pairScore(ctx, rules, e, i)).toBe(verdict.accepted ? verdict.evaluation.score : -1);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("names a bound whenever tight limits change the output", () => {
    const tight = { candidatesPerItemMax: 1, componentSizeMax: 1, groupCandidatesMax: 2, groupSearchNodesMax: 3, nearMissesPerItemMax: 1 };
    let changed = 0;
    fc.assert(
      fc.property(book, ({ external, internal }) => {
        const generous = proposeMatches({ external, internal, rules: ALL_RULES, limits: { candidatesPerItemMax: 1_000, componentSizeMax: 1_000, groupCandidatesMax: 30, groupSearchNodesMax: 1_000_000 } });
        const limited = proposeMatches({ external, internal, rules: ALL_RULES, limits: tight });
        if (json({ ...limited, bounds: [], nearMisses: [] }) !== json({ ...generous, bounds: [], nearMisses: [] })) {
          changed++;
          expect(limited.bounds.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 800 },
    );
    // The property is only worth something if tight limits did change outputs.
    expect(changed).toBeGreaterThan(20);
  });
});
