// Runs compared workloads interleaved: `rounds` rounds, each workload once
// per round, the order rotating by one each round, so a burst of other load
// on the machine (or a slow stretch of the disk) hits each of them alike.
// Each turn has an untimed part (`prepare`, then the shared `beforeTurn`,
// e.g. a CHECKPOINT) and a timed part (`run`), which measures itself and
// returns what it measured. With a MachineLoad, each turn also logs how
// much CPU other programs used meanwhile, and adds the bench's own CPU to the
// workload's total (MachineLoad.ownCpuMs(key)).
import type { MachineLoad } from "./machine-load.ts";

export interface Turn<R> {
  readonly label: string;
  /** Untimed set-up for this turn (fresh tables, exported rows). */
  readonly prepare?: (round: number) => Promise<void>;
  readonly run: (round: number) => Promise<R>;
}

export async function interleave<Key extends string, R>(
  options: { readonly rounds: number; readonly beforeTurn?: () => Promise<void>; readonly log: (message: string) => void; readonly describe: (result: R) => string; readonly load?: MachineLoad },
  workloads: Readonly<Record<Key, Turn<R>>>,
): Promise<Record<Key, R[]>> {
  const keys = Object.keys(workloads) as Key[];
  const results = Object.fromEntries(keys.map((k) => [k, [] as R[]])) as Record<Key, R[]>;
  for (let round = 0; round < options.rounds; round += 1) {
    for (let slot = 0; slot < keys.length; slot += 1) {
      const key = keys[(round + slot) % keys.length];
      if (key === undefined) continue;
      const turn = workloads[key];
      await turn.prepare?.(round);
      await options.beforeTurn?.();
      options.load?.begin();
      const result = await turn.run(round);
      const other = options.load === undefined ? "" : `; other load ${options.load.end(key).toFixed(2)} cores`;
      results[key].push(result);
      options.log(`round ${round + 1}/${options.rounds} ${turn.label}: ${options.describe(result)}${other}`);
    }
  }
  return results;
}
