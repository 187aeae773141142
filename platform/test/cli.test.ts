// Proves `npm run trueup -- import` as an operator runs it: the CLI is a
// child process (node + tsx, like the npm script) talking HTTP to a real
// Trueup listening on a random port over a fresh database. Usage mistakes
// exit 2 with the reason and the usage; --help exits 0; a server that
// refuses connections is retried a bounded number of times, then exit 3;
// a problem answer is printed with its code and exits 1.
import { createServer } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/embedded-postgres.ts";
import { startPlatform } from "./ledger-support.ts";
import type { Platform } from "./ledger-support.ts";
import { listenLocally, runCli } from "./cli-support.ts";


const cli = runCli;

let platform: Platform;
let server: string;
let folder: string;
let sample: string;

beforeAll(async () => {
  platform = await startPlatform();
  server = await listenLocally(platform);
  folder = await mkdtemp(path.join(tmpdir(), "trueup-cli-"));
  sample = path.join(folder, "one.sta");
  await writeFile(sample, ":20:X\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C260101EUR0,00\n:62F:C260101EUR0,00\n-\n");
});

afterAll(async () => {
  await platform.close();
  await rm(folder, { recursive: true, force: true });
});

describe("trueup CLI: usage", () => {
  it("--help prints the usage on stdout and exits 0", async () => {
    const run = await cli(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("usage: npm run trueup -- import <file>");
    expect(run.stdout).toContain("Exit codes");
  });

  // Each mistake's message is tested on parseCommandLine (cli-output.test.ts); here, that a mistake is exit 2 with the usage.
  it("a usage mistake: exit 2, the reason and the usage on stderr, nothing on stdout", async () => {
    const run = await cli(["import", "f.sta", "--bank-account", "b1", "--ledger", "l1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^trueup: import: give exactly one of --bank-account <id> and --ledger <id>\n\nusage:/);
    expect(run.stdout).toBe("");
  });

  it("a file that does not exist: exit 2 naming it, nothing sent", async () => {
    const missing = path.join(folder, "missing.sta");
    const run = await cli(["import", missing, "--bank-account", "b1", "--server", server]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${missing}: no such file`);
  });
});

describe("trueup CLI: the server", () => {
  it("refused connections are retried --retries times with backoff, then exit 3 saying nothing was lost", async () => {
    const port = await freePort();
    const run = await cli(["import", sample, "--bank-account", "b1", "--server", `http://127.0.0.1:${port}`, "--retries", "2"]);
    expect(run.code).toBe(3);
    expect(run.stderr.match(/unreachable \(ECONNREFUSED/g)?.length).toBe(3);
    expect(run.stderr).toContain("retry 1 of 2");
    expect(run.stderr).toContain("retry 2 of 2");
    expect(run.stderr).toContain("gave up after 3 attempts (--retries 2)");
    expect(run.stdout).toBe("");
  });

  it("TRUEUP_URL is the default server", async () => {
    const port = await freePort();
    const run = await cli(["import", sample, "--bank-account", "b1", "--retries", "0"], { TRUEUP_URL: `http://127.0.0.1:${port}` });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`server http://127.0.0.1:${port} unreachable`);
    expect(run.stderr).toContain("gave up after 1 attempt (--retries 0)");
  });

  it("an unknown bank account: exit 1 with the problem's status and code", async () => {
    const run = await cli(["import", sample, "--bank-account", "nosuchaccount", "--server", server]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^rejected \(404\) BANK_ACCOUNT_NOT_FOUND: /);
    expect(run.stdout).toBe("");
  });

  it("an id the server refuses: exit 1 naming the parameter", async () => {
    const run = await cli(["import", sample, "--bank-account", "no such account", "--server", server]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^rejected \(400\) VALIDATION_FAILED: params\/bankAccountId: .*\n {2}in params \/bankAccountId\n$/);
  });

  it("an answer that comes before the whole file was sent: printed, and the CLI exits at once (it does not wait on the open socket)", async () => {
    // A server that refuses on the headers and never reads the body, and keeps idle connections for 10 minutes:
    // a CLI that left its unfinished request open would outlive this test.
    const refusing = createServer((request, response) => {
      response.writeHead(404, { "content-type": "application/problem+json" });
      response.end(JSON.stringify({ type: "about:blank", title: "Not Found", status: 404, code: "BANK_ACCOUNT_NOT_FOUND", detail: "no bank account b1" }));
    });
    refusing.keepAliveTimeout = 600_000;
    refusing.requestTimeout = 0;
    refusing.timeout = 0;
    await new Promise<void>((resolve) => refusing.listen(0, "127.0.0.1", resolve));
    const address = refusing.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    const large = path.join(folder, "large.sta");
    await writeFile(large, Buffer.alloc(32 * 1024 * 1024, "x"));
    try {
      const run = await cli(["import", large, "--bank-account", "b1", "--server", `http://127.0.0.1:${address.port}`]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("rejected (404) BANK_ACCOUNT_NOT_FOUND: no bank account b1");
    } finally {
      refusing.closeAllConnections();
      await new Promise((resolve) => refusing.close(resolve));
    }
  });
});
