// How far a projection is behind the log. It reads the checkpoint from the
// database, so it works in any process that can reach it (e.g. the query API).
// Waiting for a position (read-your-writes) is in waiters.ts.
import { READ_COUNT_MAX } from "@trueup/event-store";
import type { EventStore, Position } from "@trueup/event-store";
import type pg from "pg";
import { readCheckpoint } from "./checkpoint.ts";
import type { PostgresProjection } from "./definition.ts";

/** Counting stops here: beyond it "very far behind" is all a dashboard needs. */
export const LAG_COUNT_MAX_DEFAULT = 100_000;

export interface ProjectionLag {
  /** Events the projection reads that are after its checkpoint, counted up to `lagCountMax`. */
  readonly positionsBehind: number;
  /** True when counting stopped at the cap: the projection is at least that far behind. */
  readonly positionsBehindCapped: boolean;
  /** Age of the oldest unprocessed event; 0 when caught up. */
  readonly secondsBehind: number;
  readonly checkpoint: Position | undefined;
  readonly head: Position | undefined;
}

export interface LagOptions {
  readonly pool: pg.Pool;
  readonly eventStore: EventStore;
  readonly projection: PostgresProjection;
  readonly lagCountMax?: number;
  readonly now?: () => Date;
}

export async function projectionLag(options: LagOptions): Promise<ProjectionLag> {
  const { pool, eventStore, projection } = options;
  const lagCountMax = options.lagCountMax ?? LAG_COUNT_MAX_DEFAULT;
  if (!Number.isInteger(lagCountMax) || lagCountMax < 1 || lagCountMax > 10_000_000) throw new RangeError("lagCountMax must be in 1..10^7");
  const checkpoint = (await readCheckpoint(pool, projection, projection.schemaName))?.position;
  const head = await eventStore.headPosition();
  let positionsBehind = 0;
  let oldest: Date | undefined;
  let after = checkpoint;
  while (positionsBehind < lagCountMax) {
    const maxCount = Math.min(READ_COUNT_MAX, lagCountMax - positionsBehind);
    const page = await eventStore.readAll({ after, filter: projection.filter, maxCount });
    oldest ??= page[0]?.recordedAt;
    positionsBehind += page.length;
    after = page[page.length - 1]?.position;
    if (page.length < maxCount) break;
  }
  const nowMs = (options.now?.() ?? new Date()).getTime();
  const secondsBehind = oldest === undefined ? 0 : Math.max(0, (nowMs - oldest.getTime()) / 1000);
  return { positionsBehind, positionsBehindCapped: positionsBehind >= lagCountMax, secondsBehind, checkpoint, head };
}
