// Proves, through the HTTP API over a real PostgreSQL, that a CSV mapping
// profile is saved once per ledger and id, decided from the log:
// - 201 with the profile id (chosen, or derived from the Idempotency-Key so
//   a retry names the same one); a retry with the same key replays the
//   answer, another body under the key is 409 IDEMPOTENCY_CONFLICT;
// - saving an id again is 409 CSV_PROFILE_ALREADY_EXISTS, also when two
//   saves race (exactly one lands); `stripe` is reserved; an unknown ledger
//   is 404 LEDGER_NOT_FOUND; an invalid profile is 400 VALIDATION_FAILED at
//   the path to fix; none of the refusals writes an event;
// - a saved profile (and the built-in stripe) is what an import reads:
//   the repository's bank sample imports with its saved profile and a
//   Stripe report with ?profile=stripe, and importing either again records
//   no new line.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvProfileSchema, statementStream } from "@trueup/contracts";
import { readCsvProfile } from "@trueup/command-side";
import { command, key } from "./ledger-support.ts";
import { importFile, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "csvp";
const FIXTURES = new URL("../../test-support/fixtures/statements/csv/", import.meta.url);
const fixture = (name: string) => readFile(new URL(name, FIXTURES), "utf8");

interface Problem {
  code: string;
  detail: string;
  path?: string;
}

const profile = (extra: Record<string, unknown> = {}) => ({ name: "Bank A", currency: "EUR", columns: { bookingDate: "Date", amount: "Amount" }, ...extra });

describe("CSV profiles are saved once per ledger and id, decided from the log", () => {
  let p: ImportPlatform;
  const events = async (): Promise<string> => (await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events")).rows[0]?.n ?? "0";

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: "csvp_bank", iban: "DE89370400440532013000" });
  });
  afterAll(async () => {
    await p.close();
  });

  it("saves a profile, replays a retry, and refuses another body under the key", async () => {
    const k = key();
    const saved = await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, { profileId: "bank_a", ...profile() }, k);
    expect(saved.statusCode, saved.body).toBe(201);
    expect(saved.json()).toMatchObject({ ledgerId: LEDGER, profileId: "bank_a", revision: "0", replayed: false });
    expect(saved.json<{ position: string }>().position).toMatch(/^[0-9a-f]{32}$/);
    const again = await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, { profileId: "bank_a", ...profile() }, k);
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toMatchObject({ profileId: "bank_a", replayed: true });
    const other = await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, { profileId: "bank_a", ...profile({ name: "changed" }) }, k);
    expect(other.statusCode).toBe(409);
    expect(other.json<Problem>().code).toBe("IDEMPOTENCY_CONFLICT");
    // Saved as validated, defaults filled in.
    expect(await readCsvProfile(p.store, LEDGER, "bank_a")).toEqual(csvProfileSchema.parse(profile()));
    expect(await readCsvProfile(p.store, LEDGER, "none")).toBeUndefined();
    expect(await readCsvProfile(p.store, "other", "bank_a")).toBeUndefined();
    expect((await readCsvProfile(p.store, LEDGER, "Stripe"))?.columns.amount).toEqual({ names: ["gross", "Amount"], optional: false });
  });

  it("derives the id from the Idempotency-Key when none is given", async () => {
    const k = key();
    const first = await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, profile(), k);
    expect(first.statusCode, first.body).toBe(201);
    const id = first.json<{ profileId: string }>().profileId;
    expect(id).toMatch(/^csv[0-9a-f]{24}$/);
    expect((await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, profile(), k)).json<{ profileId: string }>().profileId).toBe(id);
    expect((await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, profile())).json<{ profileId: string }>().profileId).not.toBe(id);
  });

  it("refuses an id saved before, and lets exactly one of two racing saves land", async () => {
    const before = await events();
    const dup = await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, { profileId: "bank_a", ...profile({ name: "other" }) });
    expect(dup.statusCode).toBe(409);
    expect(dup.json<Problem>()).toMatchObject({ code: "CSV_PROFILE_ALREADY_EXISTS", path: "/profileId" });
    expect(await events()).toBe(before);
    const racing = await Promise.all(Array.from({ length: 6 }, (_, i) => command(p.app, `/ledgers/${LEDGER}/csv-profiles`, { profileId: "raced", ...profile({ name: `racer ${i}` }) })));
    expect(racing.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(racing.filter((r) => r.statusCode === 409).every((r) => r.json<Problem>().code === "CSV_PROFILE_ALREADY_EXISTS")).toBe(true);
    const winner = racing.findIndex((r) => r.statusCode === 201);
    expect((await readCsvProfile(p.store, LEDGER, "raced"))?.name).toBe(`racer ${winner}`);
  });

  it("refuses an unknown ledger, writing nothing", async () => {
    const before = await events();
    const response = await command(p.app, "/ledgers/nope/csv-profiles", { profileId: "x", ...profile() });
    expect(response.statusCode).toBe(404);
    expect(response.json<Problem>().code).toBe("LEDGER_NOT_FOUND");
    expect(await events()).toBe(before);
  });

  const invalid: { name: string; body: Record<string, unknown>; path: string }[] = [
    { name: "the reserved id stripe", body: { profileId: "Stripe", ...profile() }, path: "/profileId" },
    { name: "an id with a space", body: { profileId: "my profile", ...profile() }, path: "/profileId" },
    { name: "no amount mapping", body: profile({ columns: { bookingDate: "Date" } }), path: "/columns" },
    { name: "an amount and debit/credit columns", body: profile({ columns: { bookingDate: "Date", amount: "A", debit: "D", credit: "C" } }), path: "/columns" },
    { name: "a debit column without a credit column", body: profile({ columns: { bookingDate: "Date", debit: "D" } }), path: "/columns/credit" },
    { name: "no currency and no currency column", body: { name: "x", columns: { bookingDate: "Date", amount: "Amount" } }, path: "/currency" },
    { name: "a lower-case currency", body: profile({ currency: "eur" }), path: "/currency" },
    { name: "a line break as delimiter", body: profile({ delimiter: "\n" }), path: "/delimiter" },
    { name: "a delimiter of two characters", body: profile({ delimiter: ";;" }), path: "/delimiter" },
    { name: "the quote equal to the delimiter", body: profile({ delimiter: "'", quote: "'" }), path: "/quote" },
    { name: "equal decimal and thousands separators", body: profile({ decimalSeparator: ",", thousandsSeparator: "," }), path: "/thousandsSeparator" },
    { name: "a named column without a header row", body: profile({ headerRow: false }), path: "/columns/bookingDate" },
    { name: "an optional amount column", body: profile({ columns: { bookingDate: "Date", amount: { names: ["A"], optional: true } } }), path: "/columns/amount" },
    { name: "an unknown date format", body: profile({ dateFormat: "D/M/YY" }), path: "/dateFormat" },
    { name: "an unknown encoding", body: profile({ encoding: "utf-16" }), path: "/encoding" },
    { name: "too many skipped rows", body: profile({ skipRows: 101 }), path: "/skipRows" },
    { name: "a column index beyond the bound", body: profile({ columns: { bookingDate: 1000, amount: 1 } }), path: "/columns/bookingDate" },
    { name: "a NUL in a column name", body: profile({ columns: { bookingDate: "Da\u0000te", amount: "Amount" } }), path: "/columns/bookingDate" },
    { name: "an unknown field", body: profile({ sheet: 1 }), path: "" },
    { name: "an unknown column field", body: profile({ columns: { bookingDate: "Date", amount: "Amount", iban: "X" } }), path: "/columns" },
    { name: "an attribute name with a dot", body: profile({ columns: { bookingDate: "Date", amount: "Amount", attributes: { "a.b": "X" } } }), path: "/columns/attributes" },
    {
      name: "more than 32 attributes",
      body: profile({ columns: { bookingDate: "Date", amount: "Amount", attributes: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`a${i}`, `c${i}`])) } }),
      path: "/columns/attributes",
    },
  ];
  for (const { name, body, path } of invalid) {
    it(`refuses ${name} with 400 at ${path === "" ? "the body" : path}`, async () => {
      const before = await events();
      const response = await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, body);
      expect(response.statusCode, response.body).toBe(400);
      const problem = response.json<Problem>();
      expect(problem.code, response.body).toBe("VALIDATION_FAILED");
      if (path !== "") expect(problem.path ?? "", response.body).toContain(path);
      expect(await events()).toBe(before);
    });
  }

  it("takes 32 attributes, the bound", async () => {
    const attributes = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`a${i}`, `c${i}`]));
    const response = await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, profile({ columns: { bookingDate: "Date", amount: "Amount", attributes } }));
    expect(response.statusCode, response.body).toBe(201);
  });

  it("is what an import reads: the bank sample with its saved profile, a Stripe report with the built-in one; a re-import is a no-op", async () => {
    const saved = await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, { profileId: "german", ...JSON.parse(await fixture("bank-semicolon.profile.json")) });
    expect(saved.statusCode, saved.body).toBe(201);
    const bank = await fixture("bank-semicolon.csv");
    const first = await importFile(p.app, "/bank-accounts/csvp_bank/statements", bank, { query: { profile: "german" } });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({ format: "csv", lineCount: 3, newLines: 3, knownLines: 0 });
    const again = await importFile(p.app, "/bank-accounts/csvp_bank/statements", bank, { query: { profile: "german" } });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toMatchObject({ lineCount: 3, newLines: 0, knownLines: 3 });

    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: "csvp_stripe", accountNumber: "acct_1PbQ2aE5kT", createLedger: false });
    const stripe = await fixture("stripe-payout-reconciliation.csv");
    const imported = await importFile(p.app, "/bank-accounts/csvp_stripe/statements", stripe, { query: { profile: "stripe" } });
    expect(imported.statusCode, imported.body).toBe(201);
    expect(imported.json()).toMatchObject({ format: "csv", lineCount: 5, newLines: 5 });
    const replayed = await importFile(p.app, "/bank-accounts/csvp_stripe/statements", stripe, { query: { profile: "stripe" } });
    expect(replayed.json()).toMatchObject({ lineCount: 5, newLines: 0, knownLines: 5 });

    // The profile's encoding decodes a file without a BOM: windows-1252 ü and € come out as written.
    const latin = Buffer.from("Buchungstag;Valutadatum;Buchungstext;Verwendungszweck;Beguenstigter/Zahlungspflichtiger;IBAN;BIC;Betrag;Waehrung\r\n01.04.2026;01.04.2026;GUTSCHRIFT;Rechnung 5 \u20ac;M\u00fcller;;;5,00;EUR\r\n", "latin1");
    latin[latin.indexOf(0xac)] = 0x80; // latin1 cannot write the euro sign: put windows-1252's byte for it in place of U+20AC's low byte
    const decoded = await importFile(p.app, "/bank-accounts/csvp_bank/statements", Buffer.concat([Buffer.from("x\r\ny\r\n\r\n"), latin]), { query: { profile: "german" } });
    expect(decoded.statusCode, decoded.body).toBe(201);
    const [statementId] = decoded.json<{ statementIds: string[] }>().statementIds;
    const [batch] = await p.store.readStream(statementStream(statementId ?? ""));
    const lines = (batch?.data as { lines?: { counterparty: { name: string }; remittanceInformation: string }[] } | undefined)?.lines ?? [];
    expect(lines.map((l) => [l.counterparty.name, l.remittanceInformation])).toEqual([["Müller", "Rechnung 5 €"]]);

    const missing = await importFile(p.app, "/bank-accounts/csvp_bank/statements", bank, { query: { profile: "absent" } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<Problem>().code).toBe("CSV_PROFILE_NOT_FOUND");
  });
});
