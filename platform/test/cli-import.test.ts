// Proves `npm run trueup -- import` end to end: the CLI as a child process
// streams real statement files to a real Trueup listening on a random port
// over a fresh database. An accepted file prints one row per statement and
// exits 0; running the same command again is a replay (the same statement,
// no new event in the log); a file whose checks fail exits 1 with the check's
// code, expected vs actual and every check, and writes nothing; a malformed
// file exits 1 naming the line; --accept-failed-checks is another key and
// records it; --ledger routes a two-account file to both bank accounts.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENERATED_ACCOUNT, germanIban, writeMt940 } from "../../bench/lib/statement-generators.ts";
import { command, startPlatform } from "./ledger-support.ts";
import type { Platform } from "./ledger-support.ts";
import { listenLocally, runCli } from "./cli-support.ts";
import type { CliRun } from "./cli-support.ts";

const LEDGER = "cli_ledger";
const OTHER_IBAN = germanIban("37040044", "1234567");
const THIRD_IBAN = germanIban("37040044", "2222222");

function cli(args: readonly string[]): Promise<CliRun> {
  return runCli([...args, "--server", server, "--retries", "0"]);
}

let platform: Platform;
let server: string;
let folder: string;
const bankAccounts: Record<string, string> = {};

/** The newest committed event's position (held back ones included): "nothing written" leaves it where it was. */
async function eventCount(): Promise<string | undefined> {
  return platform.store.headPosition({ includeHeldBack: true });
}

async function register(name: string, iban: string): Promise<string> {
  const response = await command(platform.app, `/ledgers/${LEDGER}/bank-accounts`, { kind: "bank", name, iban, currency: "EUR", ledgerAccount: "1100" });
  expect(response.statusCode).toBe(201);
  return response.json<{ bankAccountId: string }>().bankAccountId;
}

beforeAll(async () => {
  platform = await startPlatform();
  server = await listenLocally(platform);
  folder = await mkdtemp(path.join(tmpdir(), "trueup-cli-import-"));
  expect((await command(platform.app, "/ledgers", { ledgerId: LEDGER, name: "CLI", baseCurrency: "EUR" })).statusCode).toBe(201);
  expect((await command(platform.app, `/ledgers/${LEDGER}/accounts`, { code: "1100", name: "Bank", type: "asset", currency: "EUR" })).statusCode).toBe(201);
  bankAccounts.main = await register("Main", GENERATED_ACCOUNT.iban);
  bankAccounts.other = await register("Other", OTHER_IBAN);
  bankAccounts.third = await register("Third", THIRD_IBAN);
});

afterAll(async () => {
  await platform.close();
  await rm(folder, { recursive: true, force: true });
});

const file = (name: string): string => path.join(folder, name);

describe("trueup import against a running server", () => {
  it("imports a file: exit 0, a row per statement; the same command again is a replay that writes nothing", async () => {
    const generated = await writeMt940({ path: file("three.sta"), lines: 30, seed: 21, linesPerStatement: 10 });
    const first = await cli(["import", generated.path, "--bank-account", bankAccounts.main ?? ""]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const rows = first.stdout.split("\n").filter((l) => l.includes(bankAccounts.main ?? "?"));
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatch(/\s10\s+10\s+0\s+.*EUR.*\snone$/);
    expect(first.stdout).toMatch(/^total\s+30\s+30\s+0\s/m);
    expect(first.stdout).toContain("mt940: 3 statements, 30 lines, 30 new, 0 already known");
    expect(first.stdout).not.toContain("replayed");

    const before = await eventCount();
    const again = await cli(["import", generated.path, "--bank-account", bankAccounts.main ?? ""]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("replayed");
    // The same statements, the same figures: the stored first answer.
    expect(again.stdout.split("\n").filter((l) => l.includes(bankAccounts.main ?? "?"))).toEqual(rows);
    expect(await eventCount()).toBe(before);
  });

  it("a statement whose balance does not add up: exit 1 with the check, expected vs actual, every check; nothing written; accepted with --accept-failed-checks", async () => {
    const generated = await writeMt940({ path: file("one.sta"), lines: 5, seed: 22, linesPerStatement: 5 });
    const text = await readFile(generated.path, "utf8");
    // One cent more in the closing balance than the lines make.
    const unbalanced = text.replace(GENERATED_ACCOUNT.iban, THIRD_IBAN).replace(/^(:62F:C\d{6}EUR\d+,\d)(\d)$/m, (_all, head: string, last: string) => `${head}${last === "9" ? "8" : String(Number(last) + 1)}`);
    expect(unbalanced).not.toBe(text);
    await writeFile(file("unbalanced.sta"), unbalanced);
    const before = await eventCount();
    const rejected = await cli(["import", file("unbalanced.sta"), "--bank-account", bankAccounts.third ?? ""]);
    expect(rejected.code).toBe(1);
    expect(rejected.stdout).toBe("");
    expect(rejected.stderr).toMatch(/^rejected \(422\) STATEMENT_UNBALANCED: /);
    expect(rejected.stderr).toContain("  checks:");
    expect(rejected.stderr).toMatch(/ {4}balance: failed \(STATEMENT_UNBALANCED\) at line \d+/);
    expect(await eventCount()).toBe(before);

    const accepted = await cli(["import", file("unbalanced.sta"), "--bank-account", bankAccounts.third ?? "", "--accept-failed-checks", "--format", "mt940"]);
    expect(accepted.stderr).toBe("");
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(/\s5\s+5\s+0\s+.*balance/);
    expect(accepted.stdout).toContain("accepted with failed checks");
  });

  it("a :61: cut in half: exit 1 with STATEMENT_MALFORMED at its line; nothing written", async () => {
    const generated = await writeMt940({ path: file("cut.sta"), lines: 4, seed: 23 });
    const lines = (await readFile(generated.path, "utf8")).split("\n");
    const at = lines.findIndex((l) => l.startsWith(":61:"));
    lines[at] = (lines[at] ?? "").slice(0, 9);
    await writeFile(file("cut.sta"), lines.join("\n"));
    const before = await eventCount();
    const run = await cli(["import", file("cut.sta"), "--bank-account", bankAccounts.main ?? ""]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^rejected \(4\d\d\) STATEMENT_[A-Z_]+: /);
    expect(run.stderr).toContain(`  at line ${at + 1}`);
    expect(await eventCount()).toBe(before);
  });

  it("--ledger routes each statement of a two-account file to its bank account", async () => {
    const generated = await writeMt940({ path: file("two.sta"), lines: 6, seed: 24, linesPerStatement: 3 });
    const text = await readFile(generated.path, "utf8");
    const [firstStatement = "", secondStatement = ""] = text.split("\n-\n");
    await writeFile(file("two.sta"), `${firstStatement}\n-\n${secondStatement.replace(`:25:${GENERATED_ACCOUNT.iban}`, `:25:${OTHER_IBAN}`)}`);
    const run = await cli(["import", file("two.sta"), "--ledger", LEDGER]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const rows = run.stdout.split("\n");
    expect(rows.some((r) => r.includes(` ${bankAccounts.main ?? "?"} `))).toBe(true);
    expect(rows.some((r) => r.includes(` ${bankAccounts.other ?? "?"} `))).toBe(true);
    expect(run.stdout).toMatch(/^total\s+6\s+/m);
  });

  it("an unknown account in a --ledger file: exit 1 naming it", async () => {
    const generated = await writeMt940({ path: file("stranger.sta"), lines: 2, seed: 25 });
    const stranger = germanIban("37040044", "7654321");
    await writeFile(file("stranger.sta"), (await readFile(generated.path, "utf8")).replace(GENERATED_ACCOUNT.iban, stranger));
    const run = await cli(["import", file("stranger.sta"), "--ledger", LEDGER]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^rejected \(422\) STATEMENT_ACCOUNT_UNKNOWN: /);
    expect(run.stderr).toContain(stranger);
  });
});
