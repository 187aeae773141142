// Proves the built-in `stripe` profile reads Stripe's itemized reports and
// the dashboard export, whatever their column names, into lines a payout
// can be matched with: gross as the amount with the side of its sign
// (charges in; refunds, fees and the payout out), created as the booking
// date and available_on as the value date, the balance transaction id as
// the line's identity, gross/fee/net in minor units and the payout id as
// attributes; and that the nets of a payout reconciliation report add up
// to zero (charges − fees − refunds = payout) from the parsed lines alone.
// Also reads the repository's German bank sample with its saved profile.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { csvProfileSchema } from "@trueup/contracts";
import { STRIPE_PROFILE } from "../../src/reconciliation/importers/csv/stripe.ts";
import { failure, parseCsv } from "./csv-support.ts";

const FIXTURES = new URL("../../../test-support/fixtures/statements/csv/", import.meta.url);
const fixture = (name: string) => readFile(new URL(name, FIXTURES), "utf8");

describe("the built-in stripe profile", () => {
  it("reads the payout reconciliation report: one line per balance transaction", async () => {
    const { lines, statement } = await parseCsv(await fixture("stripe-payout-reconciliation.csv"), STRIPE_PROFILE, { chunkSize: 1 });
    expect(lines.map((l) => [l.bankReference, l.bankCodes.psp, l.side, l.amountMinor, l.chargesMinor, l.bookingDate, l.valueDate])).toEqual([
      ["txn_3PbA11E5kT0001", "charge", "credit", 12000n, 373n, "2026-03-01", "2026-03-03"],
      ["txn_3PbA12E5kT0002", "charge", "credit", 4990n, 170n, "2026-03-01", "2026-03-03"],
      ["txn_3PbB01E5kT0003", "refund", "debit", 4990n, 0n, "2026-03-02", "2026-03-04"],
      ["txn_1PbC01E5kT0004", "fee", "debit", 200n, 0n, "2026-03-03", "2026-03-03"],
      ["txn_1PbD01E5kT0005", "payout", "debit", 11257n, 0n, "2026-03-05", "2026-03-06"],
    ]);
    expect(lines[0]).toMatchObject({
      currency: "EUR",
      customerReference: "ch_3PbA11E5kT0001",
      description: "Order #1001, 2 items",
      batch: null,
      attributes: { payoutId: "po_1PbQ2aE5kT0001", source: "ch_3PbA11E5kT0001", grossMinor: "12000", feeMinor: "-373", netMinor: "11627" },
    });
    // The fee row has no source: the attribute is absent, not empty.
    expect(lines[3]?.attributes).not.toHaveProperty("source");
    expect(lines[3]?.customerReference).toBeNull();
    const net = lines.reduce((sum, l) => sum + BigInt(l.attributes.netMinor ?? "x"), 0n);
    expect(net).toBe(0n);
    expect(statement).toMatchObject({ currency: "EUR", lineCount: 5, periodStart: "2026-03-01", periodEnd: "2026-03-05" });
  });

  it("reads the dashboard's balance-transactions export (other column names, no payout column)", async () => {
    const text = [
      "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description",
      "txn_1,charge,ch_1,10.00,-0.59,9.41,usd,2026-03-01 12:00,2026-03-03 00:00,Sale",
      "txn_2,refund,re_1,-10.00,0.00,-10.00,usd,2026-03-02 08:30,2026-03-02 08:30,Refund",
    ].join("\n");
    const { lines } = await parseCsv(text, STRIPE_PROFILE);
    expect(lines.map((l) => [l.bankReference, l.bankCodes.psp, l.side, l.amountMinor, l.currency, l.attributes])).toEqual([
      ["txn_1", "charge", "credit", 1000n, "USD", { source: "ch_1", grossMinor: "1000", feeMinor: "-59", netMinor: "941" }],
      ["txn_2", "refund", "debit", 1000n, "USD", { source: "re_1", grossMinor: "-1000", feeMinor: "0", netMinor: "-1000" }],
    ]);
  });

  it("reads zero-decimal currencies in major units (JPY gross 1200 is 1200 minor units)", async () => {
    const text = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\ntxn_j,2026-03-01 00:00:00,jpy,1200,-43,1157,charge\n";
    const { lines } = await parseCsv(text, STRIPE_PROFILE);
    expect(lines[0]).toMatchObject({ amountMinor: 1200n, chargesMinor: 43n, currency: "JPY" });
  });

  it("refuses a report without the columns it cannot do without, naming the first variant", async () => {
    expect(await failure("balance_transaction_id,created_utc,currency,net\ntxn,2026-03-01 00:00:00,eur,1.00\n", STRIPE_PROFILE)).toMatchObject({ code: "STATEMENT_MALFORMED", location: { line: 1, column: "gross" } });
  });
});

describe("the German bank sample with its profile", () => {
  it("reads every row with the profile saved beside it", async () => {
    const profile = csvProfileSchema.parse(JSON.parse(await fixture("bank-semicolon.profile.json")));
    const { lines, statement } = await parseCsv(await fixture("bank-semicolon.csv"), profile, { chunkSize: 3 });
    expect(lines.map((l) => [l.location.line, l.side, l.amountMinor, l.bookingDate, l.bankCodes.proprietary, l.remittanceInformation, l.counterparty.iban])).toEqual([
      [5, "credit", 119000n, "2026-03-02", "GUTSCHRIFT", "RE 2026-0117; Kd 4711", "DE02120300000000202051"],
      [6, "debit", 250000n, "2026-03-03", "LASTSCHRIFT", 'Miete Maerz "Buero"', "DE12500105170648489890"],
      [7, "debit", 990n, "2026-03-31", "ENTGELT", "Kontofuehrung", null],
    ]);
    expect(lines[0]?.counterparty.bic).toBe("BYLADEM1001");
    expect(lines.every((l) => l.bankReference === null)).toBe(true);
    expect(statement).toMatchObject({ currency: "EUR", lineCount: 3, periodStart: "2026-03-02", periodEnd: "2026-03-31" });
  });
});
