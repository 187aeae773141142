// Ingest benchmark (issue #9): a generated camt.053 (200,000 entries), MT940
// (200,000 :61: lines in statements of 1,000) and CSV (200,000 rows), each
// imported end to end through HTTP: the file POSTed to the platform running
// in its own process (as deployed), timed from the first byte sent until the
// lines are queryable (GET /bank-accounts/{id}/lines?minPosition=<answer
// position> answers). Targets: >= 20,000 lines/s and the server's peak RSS
// (VmHWM) <= 400 MB. Beside each, the limit: the same file parsed in this
// process (decode + importer, no storage), and the ratio end-to-end /
// parse-only. Each format gets a fresh database and a fresh server, so one
// format's heap never colours another's peak.
//
// `npm run bench:ingest` (full run: writes bench/results/ingest.json);
// `npm run bench:ingest -- --lines 5000` is a smoke run (results to a
// temporary file: not comparable to the targets). `--formats camt,csv` runs
// some formats only (a partial run writes no results file either).
// `--split` runs the platform as two processes on the same database, the
// projections in one (TRUEUP_SERVICES=projections) and command and query in
// the other, as a multi-process deployment would (results:
// bench/results/ingest-split.json).
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { csvProfileSchema } from "@trueup/contracts";
import type { StatementFormat } from "@trueup/contracts";
import { IMPORT_LIMITS_DEFAULT, importerFor } from "../command-side/src/reconciliation/importers/index.ts";
import { upload } from "../platform/src/cli/upload.ts";
import { importAnswerSchema } from "../platform/src/cli/report.ts";
import { connectionString, startBenchPostgres } from "./lib/bench-postgres.ts";
import { peakRssBytes, prepareTarget, startIngestServer, stopIngestServer } from "./lib/ingest-platform.ts";
import { TICKS_PER_SECOND, cpuSnapshot } from "./lib/cpu-usage.ts";
import { MachineLoad } from "./lib/machine-load.ts";
import { atLeast, below, formatTable, info, writeResults } from "./lib/results.ts";
import type { Figure } from "./lib/results.ts";
import { GENERATED_CSV_PROFILE, GENERATORS } from "./lib/statement-generators.ts";
import type { GeneratedFile, GeneratedFormat } from "./lib/statement-generators.ts";
import { perSecond } from "./lib/timing.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const FULL_LINES = 200_000;
const TARGETS = { linesPerSecondMin: 20_000, peakRssMbMax: 400.000001 } as const;
/** Above this much CPU used by other programs during a turn, the run warns that its figures are skewed. */
const OTHER_LOAD_WARN_CORES = 0.25;
/** Parse-only runs per format; the fastest is the limit (what parsing alone can do on this machine). */
const PARSE_ROUNDS = 2;
/** How long the bench waits for the server's answer after the upload, and then for the lines to be queryable. */
const ANSWER_WAIT_MS = 30 * 60_000;
const QUERYABLE_WAIT_MS = 10 * 60_000;
const QUERYABLE_POLL_MS = 100;
/** Lines read back per page when counting what the read model shows (the query API's page bound). */
const READ_BACK_PAGE = 500;
const READ_CHUNK_BYTES = 256 * 1024;

const FORMATS: Record<GeneratedFormat, { readonly format: StatementFormat; readonly label: string }> = {
  camt: { format: "camt.053", label: "camt.053" },
  mt940: { format: "mt940", label: "MT940" },
  csv: { format: "csv", label: "CSV" },
};

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};
const count = (n: number): string => n.toLocaleString("en-US");

function options(): { lines: number; formats: GeneratedFormat[]; split: boolean } {
  const { values } = parseArgs({ options: { lines: { type: "string" }, formats: { type: "string" }, split: { type: "boolean" } }, strict: true });
  const lines = values.lines === undefined ? FULL_LINES : Number(values.lines);
  if (!Number.isInteger(lines) || lines < 100 || lines > 2_000_000) throw new RangeError(`--lines must be a whole number from 100 to 2,000,000, got ${values.lines}`);
  const formats = (values.formats ?? Object.keys(FORMATS).join(",")).split(",").map((f) => f.trim());
  for (const f of formats) if (!(f in FORMATS)) throw new RangeError(`--formats: unknown format ${f} (${Object.keys(FORMATS).join(", ")})`);
  return { lines, formats: formats as GeneratedFormat[], split: values.split === true };
}

/** The file as text chunks, decoded as the server decodes a UTF-8 file (the generators write UTF-8 without a BOM). */
async function* decoded(file: string): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK_BYTES })) {
    const text = decoder.decode(chunk as Buffer, { stream: true });
    if (text !== "") yield text;
  }
  const tail = decoder.decode();
  if (tail !== "") yield tail;
}

/** Decode + importer over the whole file, nothing stored: the lines it yielded and how long it took. */
async function parseOnly(generated: GeneratedFile, format: StatementFormat): Promise<{ lines: number; elapsedMs: number }> {
  const importer = importerFor(format);
  if (importer === undefined) throw new Error(`no importer for ${format} is registered (command-side/src/reconciliation/importers/index.ts)`);
  const csvProfile = format === "csv" ? csvProfileSchema.parse(GENERATED_CSV_PROFILE) : undefined;
  const limits = { ...IMPORT_LIMITS_DEFAULT, linesMax: Math.max(IMPORT_LIMITS_DEFAULT.linesMax, generated.lines) };
  const started = performance.now();
  let lines = 0;
  for await (const item of importer.parse(decoded(generated.path), { limits, format, csvProfile })) if (item.kind === "line") lines += 1;
  return { lines, elapsedMs: performance.now() - started };
}

const linesPage = z.looseObject({ items: z.array(z.unknown()), nextCursor: z.string().nullable().optional() });

/** Waits until the lines of the import are queryable: the read model has reached the answer's position. */
async function waitQueryable(url: string, bankAccountId: string, position: string): Promise<void> {
  const deadline = Date.now() + QUERYABLE_WAIT_MS;
  for (;;) {
    const response = await fetch(`${url}/bank-accounts/${encodeURIComponent(bankAccountId)}/lines?limit=1&minPosition=${position}`);
    const text = await response.text();
    if (response.ok) {
      if (linesPage.parse(JSON.parse(text)).items.length === 0) throw new Error("the lines query answered, but with no lines");
      return;
    }
    // 503 (the read model is not there yet, or the wait for minPosition ran out): ask again.
    if (response.status !== 503) throw new Error(`GET lines: ${response.status} ${text}`);
    if (Date.now() > deadline) throw new Error(`the lines were not queryable within ${QUERYABLE_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, QUERYABLE_POLL_MS));
  }
}

/** Untimed: pages through every line the read model shows for the bank account, to prove they all arrived. */
async function readBack(url: string, bankAccountId: string): Promise<number> {
  let seen = 0;
  let cursor: string | undefined;
  do {
    const query = `limit=${READ_BACK_PAGE}${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const response = await fetch(`${url}/bank-accounts/${encodeURIComponent(bankAccountId)}/lines?${query}`);
    if (!response.ok) throw new Error(`GET lines: ${response.status} ${await response.text()}`);
    const page = linesPage.parse(await response.json());
    seen += page.items.length;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return seen;
}

interface EndToEnd {
  readonly elapsedMs: number;
  readonly uploadMs: number;
  /** From the first byte until the import's answer: spooling, the parse, checks, appends. */
  readonly answerMs: number;
  readonly peakRssBytes: number;
  /** With --split: the projections process's peak (peakRssBytes is then the command and query process's). */
  readonly projectorPeakRssBytes: number | undefined;
  /** CPU seconds from the first byte until queryable: the platform's process, and PostgreSQL's server (all backends). */
  readonly platformCpuS: number;
  readonly postgresCpuS: number;
}

interface EndToEndOptions {
  readonly databaseUrl: string;
  readonly generated: GeneratedFile;
  readonly name: GeneratedFormat;
  readonly load: MachineLoad;
  readonly postgresPid: () => number | undefined;
  /** The projections in a process of their own (TRUEUP_SERVICES), beside one running command and query. */
  readonly split: boolean;
}

async function endToEnd(options: EndToEndOptions): Promise<EndToEnd> {
  const { generated, name, load } = options;
  // The projections process first: it creates the read models the other one waits for.
  const projector = options.split ? await startIngestServer({ DATABASE_URL: options.databaseUrl, TRUEUP_SERVICES: "projections" }) : undefined;
  const server = await startIngestServer({ DATABASE_URL: options.databaseUrl, ...(options.split ? { TRUEUP_SERVICES: "command,query" } : {}) });
  load.watch(server.pid);
  if (projector !== undefined) load.watch(projector.pid);
  try {
    const target = await prepareTarget(server.url, name, { withCsvProfile: name === "csv" });
    const url = new URL(`${server.url}/bank-accounts/${encodeURIComponent(target.bankAccountId)}/statements`);
    url.searchParams.set("format", FORMATS[name].format);
    if (target.csvProfileId !== undefined) url.searchParams.set("profile", target.csvProfileId);
    load.begin();
    const cpuBefore = { platform: cpuSnapshot(server.pid), projector: cpuSnapshot(projector?.pid), postgres: cpuSnapshot(options.postgresPid()) };
    const started = performance.now();
    let uploadedAt = started;
    const answer = await upload({
      url,
      file: generated.path,
      sizeBytes: generated.bytes,
      headers: { "content-type": "application/octet-stream", "idempotency-key": `bench-ingest-${name}` },
      timeoutMs: ANSWER_WAIT_MS,
      onProgress: (sent) => {
        if (sent === generated.bytes) uploadedAt = performance.now();
      },
    });
    const answeredAt = performance.now();
    if (answer.kind !== "answer") throw new Error(`import of ${generated.path}: ${answer.reason}`);
    if (answer.status !== 201) throw new Error(`import of ${generated.path}: ${answer.status} ${answer.body.slice(0, 4_000)}`);
    const body = importAnswerSchema.parse(JSON.parse(answer.body));
    const position = body.position;
    if (position === undefined || position === null) throw new Error(`the import's answer has no position: ${answer.body.slice(0, 2_000)}`);
    await waitQueryable(server.url, target.bankAccountId, position);
    const elapsedMs = performance.now() - started;
    const cpuAfter = { platform: cpuSnapshot(server.pid), projector: cpuSnapshot(projector?.pid), postgres: cpuSnapshot(options.postgresPid()) };
    load.end(name);
    const peak = peakRssBytes(server.pid);
    const projectorPeak = projector === undefined ? undefined : peakRssBytes(projector.pid);
    // A bench that imported less than it generated, or flagged its own file, measured something else: fail it.
    if (body.newLines !== String(generated.lines)) throw new Error(`the server recorded ${body.newLines} new lines of ${generated.lines}`);
    const failed = body.statements.flatMap((s) => (s.checks ?? []).filter((c) => c.status === "failed").map((c) => `${s.statementId}: ${c.check}`));
    if (failed.length > 0) throw new Error(`checks failed on a generated file: ${failed.join(", ")}`);
    const shown = await readBack(server.url, target.bankAccountId);
    if (shown !== generated.lines) throw new Error(`the read model shows ${shown} lines of ${generated.lines}`);
    log(`${name}: ${count(generated.lines)} lines in ${body.statements.length} statement(s) recorded and queryable; read back ${count(shown)}`);
    const cpuSeconds = (which: "platform" | "projector" | "postgres"): number => (cpuAfter[which].serverTicks - cpuBefore[which].serverTicks) / TICKS_PER_SECOND;
    return {
      elapsedMs,
      uploadMs: uploadedAt - started,
      answerMs: answeredAt - started,
      peakRssBytes: peak,
      projectorPeakRssBytes: projectorPeak,
      platformCpuS: cpuSeconds("platform") + cpuSeconds("projector"),
      postgresCpuS: cpuSeconds("postgres"),
    };
  } finally {
    await stopIngestServer(server);
    load.unwatch(server.pid);
    if (projector !== undefined) {
      await stopIngestServer(projector);
      load.unwatch(projector.pid);
    }
  }
}

async function measureFormat(options: { name: GeneratedFormat; lines: number; folder: string; databaseUrl: string; load: MachineLoad; postgresPid: () => number | undefined; split: boolean }): Promise<Figure[]> {
  const { name, lines, load } = options;
  const { format, label } = FORMATS[name];
  const file = path.join(options.folder, `ingest.${name}`);
  const generated = await GENERATORS[name]({ path: file, lines, seed: 9 });
  log(`${name}: generated ${count(generated.lines)} lines, ${(generated.bytes / 1024 / 1024).toFixed(1)} MiB, ${generated.statements} statement(s)`);
  const parses: { lines: number; elapsedMs: number }[] = [];
  // Interleaved (parse, import, parse), so a slower stretch of the machine touches the limit and the figure alike.
  load.begin();
  parses.push(await parseOnly(generated, format));
  load.end(`${name}-parse`);
  const e2e = await endToEnd({ ...options, generated });
  for (let round = 1; round < PARSE_ROUNDS; round++) {
    load.begin();
    parses.push(await parseOnly(generated, format));
    load.end(`${name}-parse`);
  }
  for (const p of parses) if (p.lines !== generated.lines) throw new Error(`${name}: the importer yielded ${p.lines} lines of ${generated.lines}`);
  const parseMs = Math.min(...parses.map((p) => p.elapsedMs));
  const e2eRate = perSecond(lines, e2e.elapsedMs);
  const parseRate = perSecond(lines, parseMs);
  const what = `${label}, ${count(lines)} lines${options.split ? ", projections in their own process" : ""}`;
  return [
    atLeast(`${what}: end to end through HTTP (upload to queryable)`, e2eRate, "lines/s", TARGETS.linesPerSecondMin),
    below(`${what}: server peak RSS (VmHWM)${e2e.projectorPeakRssBytes === undefined ? "" : " of the command and query process"}`, e2e.peakRssBytes / 1024 / 1024, "MB", TARGETS.peakRssMbMax),
    ...(e2e.projectorPeakRssBytes === undefined ? [] : [below(`${what}: peak RSS of the projections process`, e2e.projectorPeakRssBytes / 1024 / 1024, "MB", TARGETS.peakRssMbMax)]),
    info(`${what}: limit: parse only (decode + importer, best of ${parses.length})`, parseRate, "lines/s"),
    info(`${what}: end to end / parse only`, e2eRate / parseRate, "x"),
    info(`${what}: end to end`, e2e.elapsedMs / 1000, "s"),
    info(`${what}: of which upload (bytes sent)`, e2e.uploadMs / 1000, "s"),
    info(`${what}: of which until the answer (spool, parse, check, append)`, e2e.answerMs / 1000, "s"),
    info(`${what}: of which answer to queryable (projection)`, (e2e.elapsedMs - e2e.answerMs) / 1000, "s"),
    info(`${what}: CPU of the platform's process${options.split ? "es" : ""}, end to end`, e2e.platformCpuS, "s"),
    info(`${what}: CPU of PostgreSQL (all backends), end to end`, e2e.postgresCpuS, "s"),
    info(`${what}: file size`, generated.bytes / 1024 / 1024, "MiB"),
  ];
}

async function main(): Promise<void> {
  const { lines, formats, split } = options();
  const full = lines === FULL_LINES && formats.length === Object.keys(FORMATS).length;
  const started = performance.now();
  if (lines !== FULL_LINES) log(`--lines ${lines}: a smoke run; its figures are not comparable to the targets`);
  const folder = await mkdtemp(path.join(tmpdir(), "trueup-ingest-"));
  const postgres = await startBenchPostgres({ database: "trueup" });
  const load = new MachineLoad(() => [postgres.serverPid()]);
  const onSignal = (): void => {
    void Promise.allSettled([postgres.dispose(), rm(folder, { recursive: true, force: true })]).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const figures: Figure[] = [];
  try {
    for (const [i, name] of formats.entries()) {
      process.stdout.write(`${i + 1}/${formats.length} ${FORMATS[name].label}: generate ${count(lines)} lines, parse only, import end to end, parse only…\n`);
      const databaseUrl = connectionString(await postgres.createDatabase(`ingest_${name}`));
      figures.push(...(await measureFormat({ name, lines, folder, databaseUrl, load, postgresPid: () => postgres.serverPid(), split })));
      // The file is gone before the next is written: three 150 MB files need not sit on disk at once.
      await rm(path.join(folder, `ingest.${name}`), { force: true });
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await postgres.dispose();
    await rm(folder, { recursive: true, force: true });
  }
  figures.push(info("other load on the machine during a turn (max)", load.otherCoresMax, "cores"));
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stdout.write(`\nIngest bench, ${new Date().toISOString().slice(0, 10)}, ${seconds} s${lines === FULL_LINES ? "" : ` (--lines ${lines}: not comparable to the targets)`}\n\n`);
  process.stdout.write(`${formatTable(figures)}\n`);
  if (load.otherCoresMax > OTHER_LOAD_WARN_CORES) {
    process.stdout.write(`\nWARNING: other programs used up to ${load.otherCoresMax.toFixed(2)} of the machine's cores during a turn; the figures are skewed by that load: re-run on a quiet machine.\n`);
  }
  const file = full ? path.join(ROOT, `bench/results/ingest${split ? "-split" : ""}.json`) : path.join(tmpdir(), `trueup-ingest-bench-${lines}-${formats.join("-")}${split ? "-split" : ""}.json`);
  await writeResults(file, figures);
  log(`wrote ${file}`);
}

await main();
