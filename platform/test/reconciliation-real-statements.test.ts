// The reconciliation workflow end to end, through the HTTP API alone, on a
// real bank file: betterplace's SEPA MT940 (test-support/fixtures/
// statements/mt940, Apache-2.0), 26 statements over 22 accounts, imported
// whole through the ledger's import. One of its accounts (the first
// statement: returned SEPA transfers, a collective credit, a storno and a
// collective debit on 2007-09-04, overdrawn) is reconciled against ledger
// entries generated from what a bookkeeper would have booked:
// - a run confirms a returned transfer by the invoice number the account's
//   pattern extracts from the remittance text, proposes a collective credit
//   as one bank line against three ledger lines, and suggests two pairs by
//   amount and date;
// - the clerk confirms one suggestion and rejects the other (the books'
//   entry was a double booking, reversed; both lines are explained from the
//   exceptions queue), then matches the bank line by hand to the right
//   entry, booked a week earlier;
// - the clerk unmatches an automatic match and matches it again by hand;
// - a collective debit 0.95 off the books is matched by hand with a
//   write-off, and the bank's storno charge is written off from the
//   exceptions queue: both reach the trial balance and hledger's reading of
//   the export;
// - the books' opening balance is explained against the bank's;
// - September 2007 closes with a zero-difference reconciliation statement,
//   and its matches are locked.
// Every decision shows who made it and why.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exceptionIdOf } from "@trueup/contracts";
import type { Platform } from "./ledger-support.ts";
import { key, startPlatform } from "./ledger-support.ts";
import { eventually } from "../../test-support/eventually.ts";
import { findHledger } from "./hledger-support.ts";

const FILE = new URL("../../test-support/fixtures/statements/mt940/betterplace-sepa_mt9401.sta", import.meta.url);
const LEDGER = "bp";
const ACCOUNT = "bp_0";
/** The account of the file's first statement: opening D 1,234,718.36 on 2007-09-03, closing D 1,237,628.23 on 2007-09-04. */
const ACCOUNT_NUMBER = "50880050/0194774600888";
const CLERK = "clerk:anna";

const hledger = findHledger("reconciliation-real-statements");

interface Item { itemId: string; amount: string; reference: string | null; description: string | null }
interface Criterion { criterion: string; reason: string }
interface Match {
  matchId: string; kind: string; status: string; automatic: boolean; score: number; criteria: Criterion[];
  externalIds: string[]; internalIds: string[]; difference: string;
  writeOff: { amount: string; status: string | null; entryId: string | null } | null;
}
interface Decision { type: string; actor: string; reason: string | null; automatic: boolean }
interface Problem { code: string; byReason?: Record<string, number> }

describe("reconciling a real MT940 statement through the API: import to signed-off month", () => {
  let p: Platform;
  /** A line of the account by its amount at the bank (each is unique on this statement). */
  const lines = new Map<string, string>();
  const line = (amount: string): string => lines.get(amount) ?? `no line of ${amount}`;

  const send = (method: "POST" | "PUT", url: string, body: unknown, actor = CLERK): Promise<LightMyRequestResponse> =>
    p.app.inject({ method, url, payload: body as object, headers: { "idempotency-key": key(), "content-type": "application/json", "x-actor": actor } });
  const post = (url: string, body: unknown, actor?: string) => send("POST", url, body, actor);
  const ok = async (response: Promise<LightMyRequestResponse>, status = 201): Promise<LightMyRequestResponse> => {
    const answer = await response;
    expect(answer.statusCode, answer.body).toBe(status);
    return answer;
  };
  const get = async <T>(url: string): Promise<T> => {
    const response = await p.app.inject({ method: "GET", url });
    expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    return response.json<T>();
  };
  const unmatched = async (side: "external" | "internal"): Promise<Item[]> => (await get<{ items: Item[] }>(`/bank-accounts/${ACCOUNT}/unmatched?side=${side}&limit=100`)).items;
  const matches = async (status: string): Promise<Match[]> => (await get<{ items: Match[] }>(`/bank-accounts/${ACCOUNT}/matches?status=${status}&limit=100`)).items;
  const matchOf = async (externalId: string, status: string): Promise<Match> => {
    const found = await eventually(async () => (await matches(status)).find((m) => m.externalIds.includes(externalId)), (m) => m !== undefined, `no ${status} match of ${externalId}`);
    if (found === undefined) throw new Error("unreachable");
    return found;
  };
  const entry = (entryId: string, date: string, description: string, amount: string, contra: string) => {
    const inflow = !amount.startsWith("-");
    const abs = amount.replace(/^-/, "");
    return ok(post(`/ledgers/${LEDGER}/journal-entries`, {
      entryId, effectiveDate: date, description,
      lines: [
        { account: "1000", side: inflow ? "debit" : "credit", amount: abs, currency: "EUR" },
        { account: contra, side: inflow ? "credit" : "debit", amount: abs, currency: "EUR" },
      ],
    }, "bookkeeper:ben"));
  };
  const aged = (side: "external" | "internal", itemId: string): string => exceptionIdOf({ bankAccountId: ACCOUNT, kind: "aged", side, itemId });

  beforeAll(async () => {
    p = await startPlatform({ poolMax: 20 });
    await ok(post("/ledgers", { ledgerId: LEDGER, name: "betterplace", baseCurrency: "EUR" }));
    for (const [code, name, type] of [
      ["1000", "Bank 0194774600888", "asset"], ["1010", "Other banks", "asset"], ["1200", "Receivables", "asset"],
      ["2000", "Refunds payable", "liability"], ["2100", "Suppliers", "liability"], ["3000", "Opening balances", "equity"], ["6800", "Bank charges", "expense"],
    ] as const) await ok(post(`/ledgers/${LEDGER}/accounts`, { code, name, type }));
    // One bank account per account the file names; the one reconciled here has ledger account 1000 to itself.
    const file = readFileSync(FILE);
    const numbers = [...new Set([...file.toString("latin1").matchAll(/^:25:(.+?)\r?$/gm)].map((m) => m[1] ?? ""))];
    expect(numbers[0]).toBe(ACCOUNT_NUMBER);
    for (const [index, accountNumber] of numbers.entries()) {
      const ledgerAccount = index === 0 ? "1000" : "1010";
      await ok(post(`/ledgers/${LEDGER}/bank-accounts`, { bankAccountId: `bp_${String(index)}`, kind: "bank", name: `betterplace ${String(index)}`, currency: "EUR", ledgerAccount, accountNumber }));
    }
    await ok(send("PUT", `/bank-accounts/${ACCOUNT}/matching-rules`, {
      rules: {
        rules: [
          { kind: "reference", id: "tfnr", fields: ["invoiceNumber"], invoicePattern: "TFNR (\\d{5} \\d{5})" },
          { kind: "amountDate", id: "amount-date", dateWindowDays: 3 },
          { kind: "group", id: "collective", shapes: ["1:N", "N:1"], dateWindowDays: 1, groupSizeMax: 4 },
        ],
        tolerance: { absoluteMinor: "100" }, writeOffAccount: "6800", autoConfirmScoreMin: 90,
      },
    }), 200);

    // The file as it is: some of its other accounts' balances do not add up, which the import reports (and is told to accept).
    const imported = await ok(p.app.inject({
      method: "POST", url: `/ledgers/${LEDGER}/statements?acceptFailedChecks=true`, payload: file, headers: { "idempotency-key": key(), "content-type": "application/octet-stream", "x-actor": CLERK },
    }));
    const answer = imported.json<{ lineCount: number; newLines: number }>();
    expect(answer).toMatchObject({ lineCount: 97, newLines: 97 });
    for (const item of await eventually(() => unmatched("external"), (items) => items.length === 7, "the account's seven lines never showed")) lines.set(item.amount, item.itemId);

    // What the bookkeeper booked. r3x books the 15,000.00 return a second time (the bank's date, the wrong counterparty).
    await entry("open", "2007-09-03", "Opening balance (overdraft)", "-1234718.36", "3000");
    await entry("r1", "2007-09-04", "Returned transfer TFNR 40005 00005", "300.00", "2000");
    await entry("r2", "2007-09-05", "Returned transfer, not yet identified", "335.33", "2000");
    await entry("r3", "2007-08-28", "Returned transfer 40005/00002 (booked on notice)", "15000.00", "2000");
    await entry("r3x", "2007-09-05", "Deposit, customer 1188", "15000.00", "1200");
    await entry("c1", "2007-09-04", "Collection run 0904059001, part 1", "20000.00", "1200");
    await entry("c2", "2007-09-04", "Collection run 0904059001, part 2", "30000.00", "1200");
    await entry("c3", "2007-09-04", "Collection run 0904059001, part 3", "16295.08", "1200");
    await entry("r5", "2007-09-04", "Returned transfer TFNR 44003 00002, account blocked", "915311.55", "2000");
    await entry("d1", "2007-09-04", "Collective debit 0904059002", "-999946.00", "2100");
    await eventually(() => unmatched("internal"), (items) => items.length === 10, "the books' ten lines never showed");
  }, 120_000);

  afterAll(async () => {
    await p.close();
  });

  it("a run confirms by the pattern's invoice number, groups the collective credit, and suggests by amount and date", async () => {
    const run = (await ok(post(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {}, "scheduler"))).json<{ runId: string; autoConfirmed: number; suggested: number; proposals: Record<string, number>; bounds: unknown[] }>();
    expect(run.bounds).toEqual([]);
    const recorded = await eventually(async () => { const r = await p.app.inject({ method: "GET", url: `/reconciliation-runs/${run.runId}` }); return { status: r.statusCode, body: r.json<unknown>() }; }, (r) => r.status === 200, "the run never showed");
    expect(recorded.body).toMatchObject({ runId: run.runId, autoConfirmed: run.autoConfirmed, suggested: run.suggested, actor: "scheduler" });

    const r1 = await matchOf(line("300.00"), "confirmed");
    expect(r1).toMatchObject({ kind: "1:1", automatic: true, internalIds: ["r1:0"], difference: "0.00" });
    expect(r1.criteria.map((c) => c.reason).join("; ")).toContain("invoice number equal (4000500005)");
    const r5 = await matchOf(line("915311.55"), "confirmed");
    expect(r5).toMatchObject({ automatic: true, internalIds: ["r5:0"] });

    const all = [...(await matches("confirmed")), ...(await matches("suggested"))];
    const collective = all.find((m) => m.externalIds.includes(line("66295.08")));
    expect(collective, JSON.stringify(all)).toMatchObject({ kind: "1:N", difference: "0.00" });
    expect([...(collective?.internalIds ?? [])].sort()).toEqual(["c1:0", "c2:0", "c3:0"]);
    if (collective?.status === "suggested") await ok(post(`/matches/${collective.matchId}/confirm`, {}), 200);

    const suggested = await matches("suggested");
    expect(suggested.find((m) => m.externalIds.includes(line("335.33")))).toMatchObject({ internalIds: ["r2:0"], automatic: false });
    expect(suggested.find((m) => m.externalIds.includes(line("15000.00")))).toMatchObject({ internalIds: ["r3x:0"] });
    // Nothing was proposed for the storno, the collective debit (0.95 off, no counterparty to vouch for it) or the opening balance.
    const proposed = new Set(all.flatMap((m) => m.externalIds));
    expect(proposed.has(line("-204.88")) || proposed.has(line("-999946.95"))).toBe(false);
  });

  it("the clerk confirms one suggestion, rejects the other and matches that line by hand", async () => {
    const r2 = await matchOf(line("335.33"), "suggested");
    await ok(post(`/matches/${r2.matchId}/confirm`, {}), 200);
    const r3x = await matchOf(line("15000.00"), "suggested");
    expect((await post(`/matches/${r3x.matchId}/reject`, {})).statusCode).toBe(400);
    await ok(post(`/matches/${r3x.matchId}/reject`, { reason: "r3x is customer 1188's deposit booked in error; the return was booked on notice as r3" }), 200);
    // The right entry is a week before the bank line: outside the amount-and-date window, so the clerk picks it.
    const manual = await ok(post(`/bank-accounts/${ACCOUNT}/matches`, { matchId: "return-40005-00002", externalIds: [line("15000.00")], internalIds: ["r3:0"], reason: "booked on the return notice of 2007-08-28" }));
    expect(manual.json()).toMatchObject({ matchId: `${ACCOUNT}:return-40005-00002` });
    // The rejected pair is not proposed again; its decision shows who and why.
    const again = (await ok(post(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {}, "scheduler"))).json<{ proposals: Record<string, number> }>();
    expect(Object.values(again.proposals).reduce((a, b) => a + b, 0)).toBe(0);
    const rejected = await eventually(() => get<{ status: string; history: Decision[] }>(`/matches/${r3x.matchId}`), (m) => m.status === "rejected", "the rejection never showed");
    expect(rejected.history.at(-1)).toMatchObject({ actor: CLERK, automatic: false });
    expect(rejected.history.at(-1)?.reason).toContain("booked in error");

    // The double booking is reversed in the books; both of its lines are explained from the exceptions queue.
    await ok(post(`/ledgers/${LEDGER}/journal-entries/r3x/reverse`, { effectiveDate: "2007-09-06", reversalEntryId: "r3xrev", description: "Reverse double booking r3x" }, "bookkeeper:ben"));
    await eventually(() => unmatched("internal"), (items) => items.some((i) => i.itemId === "r3xrev:0"), "the reversal never showed");
    for (const itemId of ["r3x:0", "r3xrev:0"]) {
      await ok(post(`/exceptions/${aged("internal", itemId)}/resolve`, { resolution: "ignore", reason: "double booking of r3, reversed by r3xrev" }), 200);
    }
  });

  it("the clerk unmatches an automatic match and matches it again by hand", async () => {
    const r5 = await matchOf(line("915311.55"), "confirmed");
    expect((await post(`/matches/${r5.matchId}/unmatch`, {})).statusCode).toBe(400);
    await ok(post(`/matches/${r5.matchId}/unmatch`, { reason: "account blocked: checking the amount with the customer first" }), 200);
    await eventually(() => unmatched("external"), (items) => items.some((i) => i.itemId === line("915311.55")), "the unmatched line never reopened");
    const history = await get<{ status: string; history: Decision[] }>(`/matches/${r5.matchId}`);
    expect(history.status).toBe("unmatched");
    expect(history.history.map((d) => [d.type, d.actor])).toEqual([["MatchProposed", "scheduler"], ["MatchUnmatched", CLERK]]);
    await ok(post(`/bank-accounts/${ACCOUNT}/matches`, { matchId: "return-44003-00002", externalIds: [line("915311.55")], internalIds: ["r5:0"], reason: "customer confirmed the amount" }));
  });

  it("write-offs: a manual match 0.95 off and the storno charge from the exceptions queue reach the trial balance and hledger", async () => {
    // More than the account's tolerance (1.00) is refused, and nothing is written.
    const tooFar = await post(`/bank-accounts/${ACCOUNT}/matches`, { externalIds: [line("-999946.95")], internalIds: ["r2:0"] });
    expect(tooFar.statusCode, tooFar.body).toBe(409);
    const debit = await ok(post(`/bank-accounts/${ACCOUNT}/matches`, { matchId: "collective-debit", externalIds: [line("-999946.95")], internalIds: ["d1:0"], reason: "bank rounding on the collective debit" }));
    expect(debit.json()).toMatchObject({ matchId: `${ACCOUNT}:collective-debit` });
    await ok(post(`/exceptions/${aged("external", line("-204.88"))}/resolve`, { resolution: "write-off", ledgerAccount: "6800", reason: "storno charge on collection run 0904059003" }), 200);
    await ok(post(`/exceptions/${aged("internal", "open:0")}/resolve`, { resolution: "ignore", reason: "opening balance, agreed with the bank's opening D 1,234,718.36 on 2007-09-03" }), 200);

    const trial = await eventually(
      () => get<{ rows: { code: string; debit: string; credit: string }[] }>(`/ledgers/${LEDGER}/trial-balance`),
      (t) => t.rows.find((r) => r.code === "6800")?.debit === "205.83",
      "the write-offs never reached the trial balance",
    );
    expect(trial.rows.find((r) => r.code === "1000")).toMatchObject({ credit: "1237628.23" });
    const written = await eventually(() => get<Match>(`/matches/${ACCOUNT}:collective-debit`), (m) => m.writeOff?.status === "posted", "the write-off was never posted");
    expect(written.writeOff).toMatchObject({ amount: "-0.95" });

    const exported = await p.app.inject({ method: "GET", url: `/ledgers/${LEDGER}/export.journal` });
    expect(exported.statusCode).toBe(200);
    if (hledger === undefined) return;
    const dir = await mkdtemp(path.join(tmpdir(), "trueup-recon-hledger-"));
    try {
      const journal = path.join(dir, "bp.journal");
      await writeFile(journal, exported.body);
      const balance = (account: string): string => execFileSync(hledger, ["-f", journal, "balance", account, "-N", "--layout=bare", "-O", "csv"], { encoding: "utf8" }).trim().split("\n").slice(1).join(";");
      expect(balance("expenses:6800")).toBe('"expenses:6800","EUR","205.83"');
      expect(balance("assets:1000")).toBe('"assets:1000","EUR","-1237628.23"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("September 2007 closes with a zero-difference statement; its matches are locked", async () => {
    const close = (): Promise<LightMyRequestResponse> => post(`/bank-accounts/${ACCOUNT}/periods/2007-09/close`, {}, "controller:carl");
    let closed = await close();
    // The write-offs' outcomes are recorded by the process manager just after their entries.
    for (let tries = 0; closed.statusCode === 422 && closed.json<Problem>().byReason?.["write-off pending"] !== undefined && tries < 200; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      closed = await close();
    }
    expect(closed.statusCode, closed.body).toBe(200);
    const signed = await get<{ closedBy: string; statement: Record<string, unknown> }>(`/bank-accounts/${ACCOUNT}/reconciliation-statement?period=2007-09&minPosition=${closed.json<{ position: string }>().position}`);
    expect(signed.closedBy).toBe("controller:carl");
    expect(signed.statement).toMatchObject({
      period: "2007-09", periodEnd: "2007-09-30", balanced: true, difference: "0.00",
      bankBalance: { amount: "-1237628.23", date: "2007-09-04" }, bookBalance: "-1237628.23", adjustedBank: "-1237628.23", adjustedBook: "-1237628.23",
      outstandingPayments: { count: 0 }, depositsInTransit: { count: 0 }, feesAndCharges: { count: 0 }, interestAndReceipts: { count: 0 },
      explained: { count: 4 }, problems: [],
    });
    // The opening balance, the double booking and its reversal (ignored), the storno charge (written off).
    const explained = (signed.statement as { explained: { lines: { itemId: string; status: string }[] } }).explained.lines;
    expect(explained.map((l) => [l.itemId, l.status]).sort()).toEqual([["open:0", "ignored"], ["r3x:0", "ignored"], ["r3xrev:0", "ignored"], [line("-204.88"), "written-off"]].sort());
    const summary = await get<{ external: { total: number; matched: number; resolved: number; unmatched: number }; internal: { unmatched: number } }>(`/bank-accounts/${ACCOUNT}/summary`);
    expect(summary.external).toMatchObject({ total: 7, matched: 6, resolved: 1, unmatched: 0 });
    expect(summary.internal.unmatched).toBe(0);

    for (const match of await matches("confirmed")) {
      const refused = await post(`/matches/${match.matchId}/unmatch`, { reason: "after the close" });
      expect(refused.statusCode, refused.body).toBe(409);
      expect(["RECONCILIATION_PERIOD_CLOSED", "MATCH_HAS_WRITE_OFF"]).toContain(refused.json<Problem>().code);
    }
    expect((await close()).json<Problem>().code).toBe("RECONCILIATION_PERIOD_ALREADY_CLOSED");
  });
});
