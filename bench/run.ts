// `npm run bench -- <name>` runs one bench (eventstore, ledger, ingest) or `all`,
// in its own process each, so one bench's heap and pools never colour another.
import { spawnSync } from "node:child_process";
import path from "node:path";

/** Each bench and its script (bench:outage is a check, not a bench: run it on its own). */
const SCRIPTS = { eventstore: "eventstore.bench.ts", ledger: "ledger.bench.ts", ingest: "ingest.ts" } as const;
const BENCHES = Object.keys(SCRIPTS) as (keyof typeof SCRIPTS)[];
const root = path.resolve(import.meta.dirname, "..");
const wanted = process.argv[2] ?? "all";
const names = wanted === "all" ? [...BENCHES] : BENCHES.filter((b) => b === wanted);
if (names.length === 0) {
  process.stderr.write(`usage: npm run bench -- <${[...BENCHES, "all"].join("|")}>\n`);
  process.exit(2);
}
for (const name of names) {
  process.stdout.write(`\n== bench ${name} ==\n`);
  const run = spawnSync(path.join(root, "node_modules/.bin/tsx"), [path.join(root, "bench", SCRIPTS[name])], { stdio: "inherit" });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
