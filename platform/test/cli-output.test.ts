// Proves the CLI's pure parts: the derived Idempotency-Key is the same for
// the same file, target and options and differs when any of them differs
// (the server would call a reused key with another request a conflict);
// the URL carries the options as the import route's query; progress on a
// terminal is a bar redrawn in place, elsewhere at most one plain line per
// tenth, and nothing for a small file; the summary table has a row per
// statement, a total when there are several, and says "replayed"; a
// problem names its code, where in the file, expected vs actual and every
// check.
import { describe, expect, it } from "vitest";
import { UsageError, parseCommandLine } from "../src/cli/args.ts";
import type { ImportArgs } from "../src/cli/args.ts";
import { derivedKey, importUrl } from "../src/cli/import-command.ts";
import { PROGRESS_MIN_BYTES, progressReporter } from "../src/cli/progress.ts";
import { formatProblem, formatSummary, importAnswerSchema, problemSchema } from "../src/cli/report.ts";

function args(extra: string[] = [], target: string[] = ["--bank-account", "ba-1"]): ImportArgs {
  const parsed = parseCommandLine(["import", "f.sta", ...target, "--server", "http://h:1/base", ...extra], {});
  if (parsed.command !== "import") throw new Error("expected import");
  return parsed;
}

describe("usage mistakes", () => {
  it.each([
    ["no command", [], /a command is required/],
    ["an unknown command", ["export", "x"], /unknown command "export"/],
    ["no file", ["import", "--bank-account", "b1"], /the file to import is required/],
    ["two files", ["import", "a", "b", "--bank-account", "b1"], /one file at a time/],
    ["neither target", ["import", "f.sta"], /exactly one of --bank-account/],
    ["both targets", ["import", "f.sta", "--bank-account", "b1", "--ledger", "l1"], /exactly one of --bank-account/],
    ["an unknown option", ["import", "f.sta", "--bank-account", "b1", "--fromat", "mt940"], /--fromat/],
    ["an option without its value", ["import", "f.sta", "--bank-account"], /--bank-account/],
    ["an unknown format", ["import", "f.sta", "--bank-account", "b1", "--format", "pdf"], /--format: must be one of/],
    ["an unknown encoding", ["import", "f.sta", "--bank-account", "b1", "--encoding", "ebcdic"], /--encoding: must be one of/],
    ["--retries beyond its bound", ["import", "f.sta", "--bank-account", "b1", "--retries", "21"], /--retries: must be a whole number from 0 to 20/],
    ["--timeout 0", ["import", "f.sta", "--bank-account", "b1", "--timeout", "0"], /--timeout: must be a whole number from 1 to 3600/],
    ["a server that is no URL", ["import", "f.sta", "--bank-account", "b1", "--server", "localhost"], /--server/],
    ["a server that is not http", ["import", "f.sta", "--bank-account", "b1", "--server", "ftp://h/"], /--server: must be an http/],
    ["an Idempotency-Key with a space", ["import", "f.sta", "--bank-account", "b1", "--idempotency-key", "a b"], /--idempotency-key/],
    ["an Idempotency-Key of 201 characters", ["import", "f.sta", "--bank-account", "b1", "--idempotency-key", "k".repeat(201)], /--idempotency-key/],
  ] as const)("%s is a UsageError saying what is wrong", (_name, argv, message) => {
    expect(() => parseCommandLine(argv, {})).toThrow(UsageError);
    expect(() => parseCommandLine(argv, {})).toThrow(message);
  });

  it("the bounds themselves are accepted: --retries 20, --timeout 3600, a 200-character key", () => {
    const parsed = parseCommandLine(["import", "f", "--ledger", "l", "--retries", "20", "--timeout", "3600", "--idempotency-key", "k".repeat(200)], {});
    expect(parsed).toMatchObject({ retries: 20, timeoutMs: 3_600_000, idempotencyKey: "k".repeat(200) });
  });
});

describe("Idempotency-Key and URL", () => {
  const sha = "ab".repeat(32);

  it("the same file, target and options give the same key; any difference another", () => {
    const key = derivedKey(args(), sha);
    expect(key).toMatch(/^cli-import-[0-9a-f]{48}$/);
    expect(derivedKey(args(), sha)).toBe(key);
    const others = [
      derivedKey(args(), "cd".repeat(32)),
      derivedKey(args([], ["--bank-account", "ba-2"]), sha),
      derivedKey(args([], ["--ledger", "ba-1"]), sha),
      derivedKey(args(["--format", "mt940"]), sha),
      derivedKey(args(["--profile", "stripe"]), sha),
      derivedKey(args(["--encoding", "windows-1252"]), sha),
      derivedKey(args(["--accept-failed-checks"]), sha),
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
  });

  it("the route and query follow the target and options; the server's base path is kept", () => {
    expect(importUrl(args()).href).toBe("http://h:1/base/bank-accounts/ba-1/statements");
    expect(importUrl(args(["--format", "CSV", "--profile", "p 1", "--accept-failed-checks"], ["--ledger", "l/1"])).href).toBe(
      "http://h:1/base/ledgers/l%2F1/statements?format=csv&profile=p+1&acceptFailedChecks=true",
    );
  });

  it("defaults: TRUEUP_URL, else localhost on PORT, else 3000", () => {
    const server = (env: NodeJS.ProcessEnv): string => {
      const parsed = parseCommandLine(["import", "f", "--ledger", "l"], env);
      return parsed.command === "import" ? parsed.server.href : "";
    };
    expect(server({ TRUEUP_URL: "https://trueup.example/" })).toBe("https://trueup.example/");
    expect(server({ PORT: "4100" })).toBe("http://localhost:4100/");
    expect(server({})).toBe("http://localhost:3000/");
  });
});

describe("progress", () => {
  const sink = (isTTY: boolean): { isTTY: boolean; text: string; write(t: string): void } => ({
    isTTY,
    text: "",
    write(t) {
      this.text += t;
    },
  });

  it("a terminal gets a bar redrawn in place, then the note on its own line", () => {
    let now = 0;
    const out = sink(true);
    const progress = progressReporter({ sink: out, totalBytes: PROGRESS_MIN_BYTES * 2, label: "f.xml", now: () => now });
    for (let sent = 0; sent <= PROGRESS_MIN_BYTES * 2; sent += PROGRESS_MIN_BYTES / 4) {
      now += 1_000;
      progress.update(sent);
    }
    progress.finish("uploaded");
    expect(out.text).toContain("\rf.xml [###############---------------]  50% 4.0 MiB / 8.0 MiB");
    expect(out.text).toContain("[##############################] 100% 8.0 MiB / 8.0 MiB");
    expect(out.text.endsWith("\nuploaded\n")).toBe(true);
  });

  it("a log gets at most one plain line per tenth, whatever the number of chunks", () => {
    const out = sink(false);
    const total = PROGRESS_MIN_BYTES * 3;
    const progress = progressReporter({ sink: out, totalBytes: total, label: "f.sta" });
    for (let sent = 1; sent <= total; sent += 4_099) progress.update(sent);
    progress.update(total);
    const lines = out.text.trimEnd().split("\n");
    expect(lines.length).toBeLessThanOrEqual(10);
    expect(lines.length).toBeGreaterThanOrEqual(9);
    expect(out.text).not.toContain("\r");
    expect(lines.at(-1)).toMatch(/^f\.sta: 100% 12\.0 MiB \/ 12\.0 MiB/);
  });

  it("a file below the threshold shows nothing", () => {
    const out = sink(true);
    const progress = progressReporter({ sink: out, totalBytes: PROGRESS_MIN_BYTES - 1, label: "small" });
    progress.update(PROGRESS_MIN_BYTES - 1);
    progress.finish("uploaded");
    expect(out.text).toBe("");
  });
});

describe("summary and problems", () => {
  const totals = [{ currency: "EUR", credits: { count: 2, amount: "150.00" }, debits: { count: 1, amount: "20.10" } }];
  const statement = (id: string, failed: boolean) => ({
    statementId: id,
    bankAccountId: "ba-1",
    section: 0,
    lineCount: 3,
    newLines: 1,
    knownLines: 2,
    totals,
    checks: failed ? [{ check: "balance", status: "failed", code: "STATEMENT_UNBALANCED", message: "m", expected: "1.00 EUR", actual: "2.00 EUR", location: { line: 9 } }] : [],
    reimport: false,
  });

  it("one row per statement, a total row for several, failed checks named, replayed said", () => {
    const answer = importAnswerSchema.parse({
      statementIds: ["s-1", "s-2"],
      format: "mt940",
      lineCount: 6,
      newLines: 2,
      knownLines: 4,
      totals,
      checks: [],
      statements: [statement("s-1", false), statement("s-2", true)],
      position: "0".repeat(32),
      replayed: true,
      somethingNew: { ignored: true },
    });
    const text = formatSummary(answer, true);
    const rows = text.split("\n");
    expect(rows[0]).toMatch(/^statement\s+bank account\s+lines\s+new\s+known\s+credits\s+debits\s+failed checks$/);
    expect(rows[2]).toMatch(/^s-1\s+ba-1\s+3\s+1\s+2\s+150\.00 EUR \(2\)\s+20\.10 EUR \(1\)\s+none$/);
    expect(rows[3]).toMatch(/^s-2\s+.*\s+balance$/);
    expect(rows[4]).toMatch(/^total\s+6\s+2\s+4\s+150\.00 EUR \(2\)/);
    expect(text).toContain("mt940: 2 statements, 6 lines, 2 new, 4 already known");
    expect(text).toContain("replayed:");
    expect(text).toContain("accepted with failed checks (--accept-failed-checks): s-2");
  });

  it("a problem: code, detail, where, expected vs actual, each check", () => {
    const problem = problemSchema.parse({
      type: "https://trueup.dev/errors/statement-unbalanced",
      title: "t",
      status: 422,
      code: "STATEMENT_UNBALANCED",
      detail: "opening + lines is not closing",
      location: { line: 12, record: ":62F:" },
      expected: "100.00 EUR",
      actual: "90.00 EUR",
      checks: [
        { check: "balance", status: "failed", code: "STATEMENT_UNBALANCED", message: "off by 10.00 EUR", expected: "100.00 EUR", actual: "90.00 EUR", location: { line: 12, record: ":62F:" } },
        { check: "continuity", status: "skipped", code: null, message: "no previous statement", expected: null, actual: null, location: null },
      ],
    });
    expect(formatProblem(problem)).toBe(
      [
        "rejected (422) STATEMENT_UNBALANCED: opening + lines is not closing",
        "  at line 12, record :62F:",
        "  expected 100.00 EUR, actual 90.00 EUR",
        "  checks:",
        "    balance: failed (STATEMENT_UNBALANCED) at line 12, record :62F: - off by 10.00 EUR",
        "    continuity: skipped",
        "",
      ].join("\n"),
    );
  });

  it("a validation problem names the parameter", () => {
    const problem = problemSchema.parse({ status: 400, code: "VALIDATION_FAILED", detail: "querystring/format: invalid", in: "querystring", path: "/format" });
    expect(formatProblem(problem)).toBe("rejected (400) VALIDATION_FAILED: querystring/format: invalid\n  in querystring /format\n");
  });
});
