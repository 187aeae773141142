// The statement import under concurrency, outages and size, over HTTP and a
// real PostgreSQL. Proves: the same file sent six times at once with six
// keys is recorded once (the bank account stream's expected revision lets
// one commit through; the others decide again and find a re-import); the
// same key six times at once is one import and one answer; an outage in the
// middle of pass 2 (the k-th append fails) leaves nothing visible (no
// StatementImported) and the retry with the same key completes with the same
// statement id and no duplicate line; a 20,000-line file too large to keep
// in memory goes through two parses with every line recorded exactly once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReconciliationEvent, statementStream } from "@trueup/contracts";
import type { StatementLineData } from "@trueup/contracts";
import { StoreUnavailableError } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import { withOverrides } from "../../test-support/event-store.ts";
import { LINE_BATCHES_PER_APPEND, statementIdOf } from "../../command-side/src/reconciliation/import/pipeline.ts";
import type { ImportPlatform, StoredImportEvent } from "./statement-import-support.ts";
import { IBAN, importEvents, importFile, mt940Message, sampleLines, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import { key } from "./ledger-support.ts";

interface Answer {
  statementIds: string[];
  newLines: number;
  knownLines: number;
  lineCount: number;
  replayed: boolean;
  statements: { reimport: boolean }[];
}

function parsed(events: readonly StoredImportEvent[]) {
  return events.map((e) => parseReconciliationEvent({ type: e.type, schemaVersion: e.schemaVersion, data: e.data }));
}

/** The lines recorded for the statements the account's StatementImported events name (what readers see). */
function visibleLines(events: readonly StoredImportEvent[], bankAccountId: string): StatementLineData[] {
  const all = parsed(events);
  const committed = new Map<string, number>();
  for (const e of all) if (e.type === "StatementImported" && e.data.bankAccountId === bankAccountId) committed.set(e.data.statementId, e.data.batches);
  const lines: StatementLineData[] = [];
  for (const e of all) {
    if (e.type !== "StatementLinesRecorded") continue;
    const batches = committed.get(e.data.statementId);
    if (batches !== undefined && e.data.batchIndex < batches) lines.push(...e.data.lines);
  }
  return lines;
}

function imported(events: readonly StoredImportEvent[], bankAccountId: string) {
  return parsed(events).filter((e) => e.type === "StatementImported" && e.data.bankAccountId === bankAccountId);
}

describe("statement import: concurrent requests", () => {
  let p: ImportPlatform;

  beforeAll(async () => {
    p = await startImportPlatform({ imports: { limits: { concurrentImportsMax: 12 } } });
    await setupBankAccount(p.app, { ledgerId: "conc", bankAccountId: "keys", iban: IBAN });
    await setupBankAccount(p.app, { ledgerId: "conc2", bankAccountId: "key", iban: IBAN });
  });
  afterAll(async () => {
    await p.close();
  });

  it("one file, six keys at once: one statement recorded with its lines once; the others answer newLines 0 with its id", async () => {
    const file = mt940Message({ reference: "C6", sequence: "1", openingDate: "240701", closingDate: "240702", lines: sampleLines(1_200, { date: "240702" }) });
    const answers = await Promise.all(Array.from({ length: 6 }, () => importFile(p.app, "/bank-accounts/keys/statements", file)));
    for (const a of answers) expect(a.statusCode, a.body).toBe(201);
    const bodies = answers.map((a) => a.json<Answer>());
    const winners = bodies.filter((b) => b.newLines === 1_200);
    expect(winners).toHaveLength(1);
    const statementId = winners[0]?.statementIds[0];
    for (const b of bodies) expect(b.statementIds).toEqual([statementId]);
    expect(bodies.filter((b) => b.statements[0]?.reimport === true && b.newLines === 0)).toHaveLength(5);
    const events = await importEvents(p.db);
    expect(imported(events, "keys")).toHaveLength(1);
    const lines = visibleLines(events, "keys");
    expect(lines).toHaveLength(1_200);
    expect(new Set(lines.map((l) => l.lineId)).size).toBe(1_200);
  });

  it("one key six times at once: one import, the same answer six times", async () => {
    const k = key();
    const file = mt940Message({ reference: "K6", sequence: "1", openingDate: "240701", closingDate: "240702", lines: sampleLines(600, { date: "240702" }) });
    const answers = await Promise.all(Array.from({ length: 6 }, () => importFile(p.app, "/bank-accounts/key/statements", file, { key: k })));
    for (const a of answers) expect(a.statusCode, a.body).toBe(201);
    const bodies = answers.map((a) => ({ ...a.json<Answer>(), replayed: false }));
    for (const b of bodies) expect(b).toEqual(bodies[0]);
    expect(bodies[0]?.newLines).toBe(600);
    expect(answers.filter((a) => a.headers["idempotent-replayed"] === "true")).toHaveLength(5);
    const events = await importEvents(p.db);
    expect(imported(events, "key")).toHaveLength(1);
    expect(visibleLines(events, "key")).toHaveLength(600);
  });
});

describe("statement import: an outage in the middle of pass 2", () => {
  let p: ImportPlatform;
  /** O1's lines: more than one append's worth of batches. */
  const lineCount = LINE_BATCHES_PER_APPEND * 500 + 400;
  /** While set, an append for which it answers true fails as an outage would (nothing written). */
  let fault: ((stream: string) => boolean) | undefined;

  beforeAll(async () => {
    p = await startImportPlatform({
      wrap: (store): EventStore =>
        withOverrides(store, {
          append: async (stream, events, options) => {
            if (fault?.(stream) === true) throw new StoreUnavailableError("injected: the database went away");
            return store.append(stream, events, options);
          },
        }),
    });
    await setupBankAccount(p.app, { ledgerId: "outage", bankAccountId: "out", iban: IBAN });
  });
  afterAll(async () => {
    await p.close();
  });

  it("503 with Retry-After and nothing visible; the retry with the same key completes the same statement, no line twice", async () => {
    const k = key();
    const file = mt940Message({ reference: "O1", sequence: "1", openingDate: "240801", closingDate: "240802", lines: sampleLines(lineCount, { date: "240802" }) });
    // LINE_BATCHES_PER_APPEND batches of 500 in the first append, one of 400 in the second: that one fails, after the first was written.
    let statementAppends = 0;
    fault = (stream) => stream.startsWith("statement-") && ++statementAppends === 2;
    const failed = await importFile(p.app, "/bank-accounts/out/statements", file, { key: k });
    fault = undefined;
    expect(failed.statusCode, failed.body).toBe(503);
    expect(failed.headers["retry-after"]).toBeDefined();
    const expectedId = statementIdOf(`statements:bankaccount:out/${k}`, 0, 0);
    const afterOutage = await importEvents(p.db);
    expect(imported(afterOutage, "out")).toHaveLength(0);
    expect(afterOutage.filter((e) => e.streamName === statementStream(expectedId))).toHaveLength(LINE_BATCHES_PER_APPEND);

    const retried = await importFile(p.app, "/bank-accounts/out/statements", file, { key: k });
    expect(retried.statusCode, retried.body).toBe(201);
    expect(retried.json<Answer>()).toMatchObject({ statementIds: [expectedId], newLines: lineCount });
    const events = await importEvents(p.db);
    expect(events.filter((e) => e.streamName === statementStream(expectedId)).map((e) => e.revision)).toEqual(Array.from({ length: LINE_BATCHES_PER_APPEND + 1 }, (_, i) => BigInt(i)));
    expect(imported(events, "out")).toHaveLength(1);
    const lines = visibleLines(events, "out");
    expect(lines).toHaveLength(lineCount);
    expect(new Set(lines.map((l) => l.lineId)).size).toBe(lineCount);
  });

  it("an outage at the commit itself: nothing visible; the retry with the same key commits once", async () => {
    const k = key();
    // Follows O1 (alternating lines from 0.00, each pair −0.01).
    const file = mt940Message({ reference: "O2", sequence: "2", openingMinor: -BigInt(lineCount / 2), openingDate: "240802", closingDate: "240803", lines: sampleLines(10, { date: "240803", refPrefix: "C" }) });
    const count = imported(await importEvents(p.db), "out").length;
    fault = (stream) => stream.startsWith("bankaccount-");
    const failed = await importFile(p.app, "/bank-accounts/out/statements", file, { key: k });
    fault = undefined;
    expect(failed.statusCode, failed.body).toBe(503);
    expect(imported(await importEvents(p.db), "out")).toHaveLength(count);
    const retried = await importFile(p.app, "/bank-accounts/out/statements", file, { key: k });
    expect(retried.statusCode, retried.body).toBe(201);
    expect(retried.json<Answer>().newLines).toBe(10);
    expect(imported(await importEvents(p.db), "out")).toHaveLength(count + 1);
  });

  it("a retry whose new decision writes fewer batches than the cut attempt left: the longer stream is not named, the statement moves to its next id", async () => {
    await setupBankAccount(p.app, { ledgerId: "outage2", bankAccountId: "moved", iban: IBAN });
    const url = "/bank-accounts/moved/statements";
    const query = { acceptFailedChecks: "true" };
    const k = key();
    const file = mt940Message({ reference: "M1", sequence: "1", openingDate: "240901", closingDate: "240902", lines: sampleLines(1_400, { date: "240902", refPrefix: "M" }) });
    // The commit fails: the cut attempt leaves three batches (500, 500, 400) in the first statement id's stream.
    fault = (stream) => stream.startsWith("bankaccount-moved");
    const failed = await importFile(p.app, url, file, { key: k, query });
    fault = undefined;
    expect(failed.statusCode, failed.body).toBe(503);
    const first = statementIdOf(`statements:bankaccount:moved/${k}`, 0, 0);
    expect((await importEvents(p.db)).filter((e) => e.streamName === statementStream(first))).toHaveLength(3);
    // Meanwhile the file's last 400 lines are recorded by another statement of the account.
    const tail = mt940Message({ reference: "M2", sequence: "1", openingDate: "240901", closingDate: "240902", lines: sampleLines(400, { date: "240902", refPrefix: "M", from: 1_000 }) });
    const other = await importFile(p.app, url, tail, { query });
    expect(other.statusCode, other.body).toBe(201);
    expect(other.json<Answer>().newLines).toBe(400);
    // The retry decides 1,000 new lines: its two batches are the cut attempt's first two (replays), and a third follows them.
    const retried = await importFile(p.app, url, file, { key: k, query });
    expect(retried.statusCode, retried.body).toBe(201);
    const second = statementIdOf(`statements:bankaccount:moved/${k}`, 0, 1);
    expect(retried.json<Answer>()).toMatchObject({ statementIds: [second], newLines: 1_000, knownLines: 400 });
    const events = await importEvents(p.db);
    expect(imported(events, "moved").map((e) => (e.type === "StatementImported" ? e.data.statementId : ""))).not.toContain(first);
    const lines = visibleLines(events, "moved");
    expect(lines).toHaveLength(1_400);
    expect(new Set(lines.map((l) => l.lineId)).size).toBe(1_400);
  });
});

describe("statement import: a large file, its lines spooled between the passes", () => {
  let p: ImportPlatform;

  beforeAll(async () => {
    // About 9 MB of recorded lines: many spool writes and reads, rows cut across read chunks.
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: "large", bankAccountId: "big", iban: IBAN });
  });
  afterAll(async () => {
    await p.close();
  });

  it("20,000 lines: 40 batches, every line once; the re-import writes nothing", async () => {
    const file = mt940Message({ reference: "L1", sequence: "1", openingDate: "240901", closingDate: "240902", lines: sampleLines(20_000, { date: "240902" }) });
    const response = await importFile(p.app, "/bank-accounts/big/statements", file);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json<Answer>()).toMatchObject({ lineCount: 20_000, newLines: 20_000 });
    const events = await importEvents(p.db);
    const lines = visibleLines(events, "big");
    expect(lines).toHaveLength(20_000);
    expect(new Set(lines.map((l) => l.lineId)).size).toBe(20_000);
    expect(lines.map((l) => l.lineNumber)).toEqual(Array.from({ length: 20_000 }, (_, i) => i + 1));
    const again = await importFile(p.app, "/bank-accounts/big/statements", file);
    expect(again.json<Answer>()).toMatchObject({ newLines: 0, knownLines: 20_000 });
    expect((await importEvents(p.db)).length).toBe(events.length);
  }, 120_000);
});

describe("statement import: a file of many statements, their commits chained", () => {
  let p: ImportPlatform;
  const perStatement = 600;
  /** While set, called before every append: it may fail it (an outage) or do something first. */
  let before: ((stream: string) => Promise<void>) | undefined;
  /** Appends started and not yet answered: pass 2 must leave none behind when it answers. */
  let running = 0;

  beforeAll(async () => {
    p = await startImportPlatform({
      wrap: (store): EventStore =>
        withOverrides(store, {
          append: async (stream, events, options) => {
            running++;
            try {
              await before?.(stream);
              return await store.append(stream, events, options);
            } finally {
              running--;
            }
          },
        }),
    });
  });
  afterAll(async () => {
    await p.close();
  });

  /** `count` chained statements (each opening at the last one's closing), 600 lines each (two batches, one append) unless told. */
  function statements(prefix: string, count: number, lines = perStatement): string {
    return Array.from({ length: count }, (_, k) =>
      mt940Message({
        reference: `${prefix}${k}`,
        sequence: String(k + 1),
        openingMinor: -BigInt((k * lines) / 2),
        openingDate: `2410${String(k + 1).padStart(2, "0")}`,
        closingDate: `2410${String(k + 2).padStart(2, "0")}`,
        lines: sampleLines(lines, { date: `2410${String(k + 2).padStart(2, "0")}`, refPrefix: `${prefix}${k}-` }),
      }),
    ).join("");
  }

  function statementOrder(events: readonly StoredImportEvent[], bankAccountId: string): number[] {
    return imported(events, bankAccountId).map((e) => (e.type === "StatementImported" ? e.data.source.section : -1));
  }

  it("an outage at the third commit: 503, the first two statements recorded, no append left running; the retry records the rest once, in file order", async () => {
    await setupBankAccount(p.app, { ledgerId: "chain", bankAccountId: "chain", iban: IBAN });
    const k = key();
    const file = statements("S", 6);
    let commits = 0;
    before = async (stream) => {
      // Once the commit has failed, later statements' batches land slowly: an answer that does not wait for them would come first.
      if (commits >= 3 && stream.startsWith("statement-")) await new Promise((resolve) => setTimeout(resolve, 300));
      if (stream.startsWith("bankaccount-chain") && ++commits === 3) throw new StoreUnavailableError("injected: the database went away");
    };
    const failed = await importFile(p.app, "/bank-accounts/chain/statements", file, { key: k });
    const runningAtAnswer = running;
    before = undefined;
    expect(failed.statusCode, failed.body).toBe(503);
    expect(runningAtAnswer).toBe(0);
    // The commit after the failed one was never tried.
    expect(commits).toBe(3);
    expect(statementOrder(await importEvents(p.db), "chain")).toEqual([0, 1]);

    const retried = await importFile(p.app, "/bank-accounts/chain/statements", file, { key: k });
    expect(retried.statusCode, retried.body).toBe(201);
    expect(retried.json<Answer>()).toMatchObject({ lineCount: 6 * perStatement, newLines: 6 * perStatement });
    const events = await importEvents(p.db);
    expect(statementOrder(events, "chain")).toEqual([0, 1, 2, 3, 4, 5]);
    const lines = visibleLines(events, "chain");
    expect(lines).toHaveLength(6 * perStatement);
    expect(new Set(lines.map((l) => l.lineId)).size).toBe(6 * perStatement);
  });

  it("an outage at a statement's batches while the one before it commits: 503 once that commit has landed, nothing running; the retry records the rest", async () => {
    await setupBankAccount(p.app, { ledgerId: "chain3", bankAccountId: "chain3", iban: IBAN });
    const k = key();
    // 4,600 lines: ten batches in three appends; the second append waits for the first to land, while the lines are still being read.
    const lines = 4_600;
    const file = statements("U", 4, lines);
    const streams: string[] = [];
    before = async (stream) => {
      // The third statement's commit is slow; the fourth statement's first append fails meanwhile.
      if (stream.startsWith("bankaccount-chain3") && imported(await importEvents(p.db), "chain3").length === 2) await new Promise((resolve) => setTimeout(resolve, 500));
      if (!stream.startsWith("statement-") || streams.includes(stream)) return;
      streams.push(stream);
      if (streams.length === 4) throw new StoreUnavailableError("injected: the database went away");
    };
    const failed = await importFile(p.app, "/bank-accounts/chain3/statements", file, { key: k });
    const runningAtAnswer = running;
    before = undefined;
    expect(failed.statusCode, failed.body).toBe(503);
    expect(runningAtAnswer).toBe(0);
    expect(statementOrder(await importEvents(p.db), "chain3")).toEqual([0, 1, 2]);
    const retried = await importFile(p.app, "/bank-accounts/chain3/statements", file, { key: k });
    expect(retried.statusCode, retried.body).toBe(201);
    const events = await importEvents(p.db);
    expect(statementOrder(events, "chain3")).toEqual([0, 1, 2, 3]);
    expect(new Set(visibleLines(events, "chain3").map((l) => l.lineId)).size).toBe(4 * lines);
  }, 60_000);

  it("another import lands between two commits: the file is decided again, each of its statements recorded once, after the other one", async () => {
    await setupBankAccount(p.app, { ledgerId: "chain2", bankAccountId: "chain2", iban: IBAN });
    const query = { acceptFailedChecks: "true" };
    const file = statements("T", 5);
    const intruder = mt940Message({ reference: "X", sequence: "99", openingDate: "241201", closingDate: "241202", lines: sampleLines(700, { date: "241202", refPrefix: "X" }) });
    let commits = 0;
    let intruded = false;
    before = async (stream) => {
      if (!stream.startsWith("bankaccount-chain2") || intruded || ++commits !== 3) return;
      intruded = true;
      const other = await importFile(p.app, "/bank-accounts/chain2/statements", intruder, { query });
      expect(other.statusCode, other.body).toBe(201);
    };
    const response = await importFile(p.app, "/bank-accounts/chain2/statements", file, { query });
    before = undefined;
    expect(response.statusCode, response.body).toBe(201);
    expect(intruded).toBe(true);
    expect(response.json<Answer>()).toMatchObject({ lineCount: 5 * perStatement, newLines: 5 * perStatement });
    const events = await importEvents(p.db);
    // Sections 0 and 1 committed before the intruder (section 0 of its file), the rest after it.
    expect(statementOrder(events, "chain2")).toEqual([0, 1, 0, 2, 3, 4]);
    const lines = visibleLines(events, "chain2");
    expect(lines).toHaveLength(5 * perStatement + 700);
    expect(new Set(lines.map((l) => l.lineId)).size).toBe(5 * perStatement + 700);
  });
});
