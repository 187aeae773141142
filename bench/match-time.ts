// One engine timed the way bench/match.ts times it (the bench's books, the
// engine twice, best of the two), for alternating A/B runs of two versions
// of the engine in separate processes:
//   node --max-old-space-size=6144 --import tsx bench/match-time.ts [--engine DIR] [--pairs N] [--rounds N]
// DIR is a directory holding an engine.ts (default: the working tree's
// command-side/src/reconciliation/matching); for a baseline, copy a
// commit's engine into a directory under bench/ (`git show
// <commit>:<path>` per file, so its imports resolve) and delete it after.
// Prints one JSON line: the runs' seconds and CPU seconds, the other load
// on the machine during them (cores, as the bench measures it), and the
// peak RSS.
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { MachineLoad } from "./lib/machine-load.ts";
import { generateBooks } from "./lib/match-books.ts";
import type { MatchInput, MatchResult } from "../command-side/src/reconciliation/matching/types.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
/** bench/match.ts's BOOKS_SEED. */
const BOOKS_SEED = 20_260_101;

const { values } = parseArgs({ options: { engine: { type: "string" }, pairs: { type: "string", default: "100000" }, rounds: { type: "string", default: "2" } }, strict: true });
const dir = path.resolve(ROOT, values.engine ?? "command-side/src/reconciliation/matching");
const engine = (await import(pathToFileURL(path.join(dir, "engine.ts")).href)) as { proposeMatches: (input: MatchInput) => MatchResult };
const books = generateBooks({ pairs: Number(values.pairs), seed: BOOKS_SEED });
const load = new MachineLoad(() => []);
const seconds: number[] = [];
/** CPU seconds of this process per run: less moved by other load than the wall clock (never the figure, a cross-check). */
const cpuSeconds: number[] = [];
const other: number[] = [];
let proposals = 0;
for (let round = 0; round < Number(values.rounds); round++) {
  load.begin();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = engine.proposeMatches({ external: books.external, internal: books.internal, rules: books.rules });
  seconds.push((performance.now() - started) / 1000);
  const cpu = process.cpuUsage(cpuBefore);
  cpuSeconds.push((cpu.user + cpu.system) / 1e6);
  other.push(load.end());
  proposals = result.proposals.length;
}
const line = { engine: path.relative(ROOT, dir), pairs: Number(values.pairs), seconds: seconds.map((s) => Number(s.toFixed(3))), best: Number(Math.min(...seconds).toFixed(3)), cpuSeconds: cpuSeconds.map((s) => Number(s.toFixed(3))), otherCores: other.map((c) => Number(c.toFixed(3))), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), proposals };
process.stdout.write(`${JSON.stringify(line)}\n`);
