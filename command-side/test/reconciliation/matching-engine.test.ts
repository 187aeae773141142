// Proves the matching engine's behaviour case by case, through its one
// public function: what each rule proposes and how it explains it, that the
// 1:1 choice is the best total and not the first or the locally best pair,
// that equal alternatives are flagged and never auto-confirmed, tolerance
// write-offs, partial matches, grouped matches of every shape (by reference
// and by amount), near misses, and each bound reported when it cuts.
import { describe, expect, it } from "vitest";
import { MatchInputError, proposeMatches } from "../../src/reconciliation/matching/index.ts";
import type { MatchResult, Proposal } from "../../src/reconciliation/matching/index.ts";
import { ALL_RULES, ext, int, minor, rules } from "./matching-support.ts";

const only = (result: MatchResult): Proposal => {
  expect(result.proposals).toHaveLength(1);
  const [first] = result.proposals;
  if (first === undefined) throw new Error("no proposal");
  return first;
};
/** e1–i1 score 75 (same day); e1–i2 and e2–i1 score 70 (a day apart, IBAN equal); e2–i2 is outside the window. */
const TWO_BY_TWO = {
  external: [ext("e1", "40.00", "2026-03-10", { counterpartyIban: "DE89370400440532013000" }), ext("e2", "40.00", "2026-03-09", { counterpartyIban: "GB82WEST12345698765432" })],
  internal: [int("i1", "40.00", "2026-03-10", { counterpartyIban: "GB82WEST12345698765432" }), int("i2", "40.00", "2026-03-11", { counterpartyIban: "DE89370400440532013000" })],
  rules: rules({ rules: [{ kind: "amountDate", id: "ad", dateWindowDays: 1 }] }),
};
const pairs = (result: MatchResult) => result.proposals.map((p) => `${p.externalIds.join("+")}=${p.internalIds.join("+")}`).sort();

describe("pairs by reference", () => {
  it("an equal end-to-end id and amount on the same day scores 100 and is confirmed without a clerk", () => {
    const result = proposeMatches({
      external: [ext("e1", "250.00", "2026-03-02", { endToEndId: "E2E-77" })],
      internal: [int("i1", "250.00", "2026-03-02", { reference: "e2e-77" })],
      rules: ALL_RULES,
    });
    const p = only(result);
    expect(p).toMatchObject({ kind: "1:1", ruleId: "ref", score: 100, differenceMinor: 0n, writeOff: null, residual: null, ambiguity: null, autoConfirm: true });
    expect(p.explanation).toBe("end-to-end id equal (E2E-77); amount exact; value date the same day");
  });

  it("finds an invoice number in the remittance text with the rule's pattern", () => {
    const result = proposeMatches({
      external: [ext("e1", "99.00", "2026-03-05", { remittanceInformation: "Payment for invoice INV 2026 0415, thanks" })],
      internal: [int("i1", "99.00", "2026-03-01", { description: "Invoice INV-20260415 Acme" })],
      rules: rules({ rules: [{ kind: "reference", id: "inv", fields: ["invoiceNumber"], invoicePattern: "INV[ -]?(\\d{4} ?\\d{4})" }] }),
    });
    expect(only(result).explanation).toBe("invoice number equal (20260415); amount exact; value date 4 days apart (window 31)");
  });

  it("ignores placeholder references such as NOTPROVIDED", () => {
    const result = proposeMatches({
      external: [ext("e1", "10.00", "2026-03-02", { endToEndId: "NOTPROVIDED" })],
      internal: [int("i1", "30.00", "2026-03-02", { reference: "NOTPROVIDED" })],
      rules: ALL_RULES,
    });
    expect(result.proposals).toEqual([]);
  });

  it("a difference within the tolerance is proposed with its write-off to the configured account", () => {
    const p = only(
      proposeMatches({
        external: [ext("e1", "99.50", "2026-03-02", { endToEndId: "E2E-1" })],
        internal: [int("i1", "100.00", "2026-03-02", { reference: "E2E-1" })],
        rules: ALL_RULES,
      }),
    );
    expect(p.differenceMinor).toBe(-50n);
    expect(p.writeOff).toEqual({ amountMinor: -50n, ledgerAccount: "6800" });
    expect(p.explanation).toContain("amount differs by 0.50 EUR, within the tolerance (written off)");
  });

  it("a smaller payment of a referenced invoice is a partial match leaving the rest open, never auto-confirmed", () => {
    const p = only(
      proposeMatches({
        external: [ext("e1", "60.00", "2026-03-02", { endToEndId: "INV-1001" })],
        internal: [int("i1", "100.00", "2026-03-01", { reference: "INV-1001" })],
        rules: ALL_RULES,
      }),
    );
    expect(p.residual).toEqual({ side: "internal", itemId: "i1", amountMinor: minor("40.00") });
    expect(p.autoConfirm).toBe(false);
    expect(p.explanation).toContain("partial: 60.00 EUR of 100.00 EUR, 40.00 EUR left open on the internal item");
  });

  it("never pairs money in with money out, or two currencies", () => {
    const result = proposeMatches({
      external: [ext("e1", "50.00", "2026-03-02", { endToEndId: "R-1" }), ext("e2", "70.00", "2026-03-02", { endToEndId: "R-2", currency: "USD" })],
      internal: [int("i1", "-50.00", "2026-03-02", { reference: "R-1" }), int("i2", "70.00", "2026-03-02", { reference: "R-2" })],
      rules: ALL_RULES,
    });
    expect(result.proposals).toEqual([]);
  });
});

describe("pairs by amount and date", () => {
  it("grades the date, the name and the IBAN, and stays below auto-confirm on amount and date alone", () => {
    const result = proposeMatches({
      external: [
        ext("e1", "-1200.00", "2026-03-02", { counterpartyName: "Müller Bau GmbH", counterpartyIban: "DE89 3704 0044 0532 0130 00" }),
        ext("e2", "310.00", "2026-03-09"),
      ],
      internal: [
        int("i1", "-1200.00", "2026-03-01", { counterpartyName: "MULLER BAU", counterpartyIban: "DE89370400440532013000" }),
        int("i2", "310.00", "2026-03-09"),
      ],
      rules: ALL_RULES,
    });
    const [named, bare] = result.proposals;
    expect(named?.explanation).toBe("amount exact; value date 1 day apart (window 3); counterparty name similarity 1.00; counterparty IBAN equal");
    expect(named?.score).toBe(50 + 20 + 15 + 10);
    expect(named?.autoConfirm).toBe(true);
    expect(bare?.score).toBe(75);
    expect(bare?.autoConfirm).toBe(false);
  });

  it("chooses the best total, not the first or the locally best pair", () => {
    // e1–i1 is the best single pair (75) and a greedy choice takes it, leaving e2 and i2 alone; e1–i2 and e2–i1 (70 + 70) match both.
    const result = proposeMatches({ external: TWO_BY_TWO.external, internal: TWO_BY_TWO.internal, rules: TWO_BY_TWO.rules });
    expect(pairs(result)).toEqual(["e1=i2", "e2=i1"]);
    expect(result.proposals.map((p) => p.score)).toEqual([70, 70]);
  });

  it("does not trade one certain pair for two doubtful ones on the same items", () => {
    // e1–i1 share a reference (100); e1–i2 and e2–i1 are only an amount within the tolerance and a like name (60 each).
    // Raw scores would prefer the two (120 > 100); the weights (each 10 points double a pair's worth) keep the certain one.
    const result = proposeMatches({
      external: [ext("e1", "500.00", "2026-03-02", { endToEndId: "E2E-1", counterpartyName: "Acme" }), ext("e2", "501.00", "2026-03-02", { counterpartyName: "Acme" })],
      internal: [int("i1", "500.00", "2026-03-02", { reference: "E2E-1", counterpartyName: "Acme" }), int("i2", "497.00", "2026-03-02", { counterpartyName: "Acme" })],
      rules: ALL_RULES,
    });
    expect(result.proposals.find((p) => p.externalIds[0] === "e1")?.internalIds).toEqual(["i1"]);
  });

  it("flags two equally good candidates as ambiguous and does not auto-confirm either", () => {
    const result = proposeMatches({
      external: [ext("e1", "500.00", "2026-03-02", { endToEndId: "E-9" })],
      internal: [int("i1", "500.00", "2026-03-02", { reference: "E-9" }), int("i2", "500.00", "2026-03-02", { reference: "E-9" })],
      rules: ALL_RULES,
    });
    const p = only(result);
    expect(p.score).toBe(100);
    expect(p.autoConfirm).toBe(false);
    expect(p.ambiguity).toEqual({ competingExternalIds: [], competingInternalIds: ["i2"] });
  });

  it("cites a learned hint and scores it", () => {
    const result = proposeMatches({
      external: [ext("e1", "-89.00", "2026-03-02", { counterpartyName: "Stadtwerke" })],
      internal: [int("i1", "-89.00", "2026-03-02", { contraAccounts: ["6300"] })],
      rules: ALL_RULES,
      hints: [{ counterparty: "STADTWERKE", ledgerAccount: "6300", confirmations: 3 }],
    });
    expect(only(result).explanation).toContain("counterparty STADTWERKE was matched to account 6300 before (3 times)");
    expect(only(result).score).toBe(80);
  });
});

describe("groups", () => {
  it("a PSP payout is its charges minus fees and refunds, all carrying the payout id", () => {
    const result = proposeMatches({
      external: [ext("payout", "870.00", "2026-03-05", { bankReference: "po_1Q2w3E", remittanceInformation: "STRIPE PAYOUT" })],
      internal: [
        int("charge-1", "500.00", "2026-03-03", { reference: "po_1Q2w3E" }),
        int("charge-2", "420.00", "2026-03-03", { reference: "po_1Q2w3E" }),
        int("refund", "-20.00", "2026-03-04", { reference: "po_1Q2w3E" }),
        int("fee", "-30.00", "2026-03-05", { reference: "po_1Q2w3E" }),
        int("elsewhere", "500.00", "2026-03-03", { reference: "po_other" }),
      ],
      rules: ALL_RULES,
    });
    const p = only(result);
    expect(p).toMatchObject({ kind: "1:N", internalIds: ["charge-1", "charge-2", "fee", "refund"], differenceMinor: 0n, autoConfirm: true });
    expect(p.explanation).toContain("bank reference PO_1Q2W3E shared by every item");
  });

  it("one bank line against several ledger lines of the same counterparty (1:N)", () => {
    const result = proposeMatches({
      external: [ext("e1", "300.00", "2026-03-02", { counterpartyName: "Acme Ltd" })],
      internal: [
        int("i1", "100.00", "2026-03-01", { counterpartyName: "ACME" }),
        int("i2", "200.00", "2026-03-02", { description: "Invoice 17 Acme Ltd." }),
        int("i3", "200.00", "2026-03-02", { counterpartyName: "Other Corp" }),
      ],
      rules: ALL_RULES,
    });
    expect(only(result)).toMatchObject({ kind: "1:N", externalIds: ["e1"], internalIds: ["i1", "i2"], differenceMinor: 0n });
  });

  it("several bank lines against one ledger line (N:1)", () => {
    const result = proposeMatches({
      external: [ext("e1", "-40.00", "2026-03-02", { counterpartyName: "Fuel Co" }), ext("e2", "-60.00", "2026-03-03", { counterpartyName: "Fuel Co" })],
      internal: [int("i1", "-100.00", "2026-03-03", { counterpartyName: "Fuel Co" })],
      rules: ALL_RULES,
    });
    expect(only(result)).toMatchObject({ kind: "N:1", externalIds: ["e1", "e2"], internalIds: ["i1"] });
  });

  it("several against several (N:M) when no smaller shape fits", () => {
    const result = proposeMatches({
      external: [ext("e1", "70.00", "2026-03-02", { counterpartyName: "Kiosk" }), ext("e2", "50.00", "2026-03-02", { counterpartyName: "Kiosk" })],
      internal: [int("i1", "80.00", "2026-03-02", { counterpartyName: "Kiosk" }), int("i2", "40.00", "2026-03-03", { counterpartyName: "Kiosk" })],
      rules: ALL_RULES,
    });
    expect(only(result)).toMatchObject({ kind: "N:M", externalIds: ["e1", "e2"], internalIds: ["i1", "i2"], differenceMinor: 0n });
  });

  it("proposes two pairs, not one N:M group, when the group's parts balance on their own", () => {
    // Each pair is weak (two days apart, 80), so the groups are searched first; 70 + 50 = 70 + 50 is two matches, not one.
    const result = proposeMatches({
      external: [ext("e1", "70.00", "2026-03-02", { counterpartyName: "Kiosk" }), ext("e2", "50.00", "2026-03-02", { counterpartyName: "Kiosk" })],
      internal: [int("i1", "70.00", "2026-03-04", { counterpartyName: "Kiosk" }), int("i2", "50.00", "2026-03-04", { counterpartyName: "Kiosk" })],
      rules: ALL_RULES,
    });
    expect(pairs(result)).toEqual(["e1=i1", "e2=i2"]);
    expect(result.proposals.map((p) => p.score)).toEqual([80, 80]);
  });

  it("prefers a group of one counterparty's items to a weak pair that would take one of its parts", () => {
    // i2 alone matches e9's amount a day apart with nothing else (70); but i1 + i2 are Acme's, and add up to Acme's e1.
    const result = proposeMatches({
      external: [ext("e1", "300.00", "2026-03-02", { counterpartyName: "Acme" }), ext("e9", "200.00", "2026-03-03")],
      internal: [int("i1", "100.00", "2026-03-02", { counterpartyName: "Acme" }), int("i2", "200.00", "2026-03-02", { counterpartyName: "Acme" })],
      rules: ALL_RULES,
    });
    expect(pairs(result)).toEqual(["e1=i1+i2"]);
  });

  it("does not group by amount alone in a crowded window (chance would find sums)", () => {
    const internal = Array.from({ length: 40 }, (_, k) => int(`i${String(k).padStart(2, "0")}`, `${10 + k}.00`, "2026-03-02"));
    const result = proposeMatches({ external: [ext("e1", "45.00", "2026-03-02")], internal, rules: rules({ rules: [{ kind: "group", id: "g", shapes: ["1:N"] }] }) });
    expect(result.proposals).toEqual([]);
    expect(result.bounds.map((b) => b.bound)).toContain("groupCandidatesMax");
  });
});

describe("near misses", () => {
  it("lists the closest candidates of an unmatched item and why each failed", () => {
    const result = proposeMatches({
      external: [ext("e1", "75.00", "2026-03-02", { endToEndId: "E-5" })],
      internal: [int("i1", "75.00", "2026-03-09"), int("i2", "95.00", "2026-03-02", { reference: "E-5" })],
      rules: rules({ rules: [{ kind: "reference", id: "ref", fields: ["endToEndId"] }, { kind: "amountDate", id: "ad", dateWindowDays: 3 }] }),
    });
    expect(result.proposals).toEqual([]);
    const miss = result.nearMisses.find((m) => m.itemId === "e1");
    expect(miss?.candidates.map((c) => c.itemIds[0])).toEqual(["i2", "i1"]);
    expect(miss?.candidates[0]).toEqual({ itemIds: ["i2"], score: 70, failures: ["ref: amount differs by 20.00 EUR", "ad: amount differs by 20.00 EUR"] });
    expect(miss?.candidates[1]?.failures).toEqual(["ref: no shared reference (end-to-end id)", "ad: value date 7 days apart (window 3)"]);
  });
});

describe("bounds and bad input", () => {
  it("says when the component limit made the 1:1 choice greedy", () => {
    const result = proposeMatches({ ...TWO_BY_TWO, limits: { componentSizeMax: 1 } });
    expect(pairs(result)).toEqual(["e1=i1"]);
    expect(result.bounds).toContainEqual(expect.objectContaining({ bound: "componentSizeMax", times: 1 }));
  });

  it("says when the candidate limit dropped acceptable candidates", () => {
    const internal = ["i1", "i2", "i3"].map((id) => int(id, "40.00", "2026-03-10"));
    const result = proposeMatches({ external: [ext("e1", "40.00", "2026-03-10")], internal, rules: ALL_RULES, limits: { candidatesPerItemMax: 2 } });
    expect(result.bounds.map((b) => b.bound)).toContain("candidatesPerItemMax");
  });

  it("says when a group search ran out of nodes", () => {
    // Twelve equal amounts and a target none of their sums reaches: the search has to try a great many subsets.
    const internal = Array.from({ length: 12 }, (_, k) => int(`i${String(k).padStart(2, "0")}`, "10.00", "2026-03-02", { counterpartyName: "Acme" }));
    const result = proposeMatches({
      external: [ext("e1", "45.00", "2026-03-02", { counterpartyName: "Acme" })],
      internal,
      rules: rules({ rules: [{ kind: "group", id: "g", shapes: ["1:N"], groupSizeMax: 8 }] }),
      limits: { groupSearchNodesMax: 50 },
    });
    expect(result.bounds.map((b) => b.bound)).toContain("groupSearchNodesMax");
  });

  it("stops when the time budget is spent and says so", () => {
    let t = 0;
    const result = proposeMatches({
      external: [ext("e1", "40.00", "2026-03-10")],
      internal: [int("i1", "40.00", "2026-03-10")],
      rules: ALL_RULES,
      limits: { timeBudgetMs: 5 },
      now: () => (t += 10),
    });
    expect(result.proposals).toEqual([]);
    expect(result.bounds[0]?.bound).toBe("timeBudgetMs");
  });

  it("refuses two items with one id, an external item without a date, and a limit that is not a positive integer", () => {
    expect(() => proposeMatches({ external: [ext("e1", "1.00", "2026-03-01"), ext("e1", "2.00", "2026-03-01")], internal: [], rules: ALL_RULES })).toThrow(MatchInputError);
    expect(() => proposeMatches({ external: [ext("e1", "1.00", "2026-03-01", { valueDate: null, bookingDate: null })], internal: [], rules: ALL_RULES })).toThrow(MatchInputError);
    expect(() => proposeMatches({ external: [], internal: [], rules: ALL_RULES, limits: { componentSizeMax: 0 } })).toThrow(RangeError);
    expect(() => proposeMatches({ external: [], internal: [], rules: ALL_RULES, limits: { timeBudgetMs: Number.NaN } })).toThrow(RangeError);
  });

  it("copes with hostile text: long names, control characters, a pattern over long remittance", () => {
    const long = "A".repeat(5000) + "\u0007\u202e";
    const result = proposeMatches({
      external: [ext("e1", "1.00", "2026-03-01", { counterpartyName: long, remittanceInformation: "INV-".repeat(5000) })],
      internal: [int("i1", "1.00", "2026-03-01", { counterpartyName: long, description: long })],
      rules: ALL_RULES,
    });
    expect(result.proposals).toHaveLength(1);
  });
});
