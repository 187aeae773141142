// How far a projection is behind the log. It reads the checkpoint from the
// database, so it works in any process that can reach it (e.g. the query API).
// Waiting for a position (read-your-writes) is in waiters.ts.
import { READ_COUNT_MAX } from "@trueup/event-store";
import type { EventStore, Position } from "@trueup/event-store";
import type pg from "pg";
import { readCheckpoint } from "./checkpoint.ts";
import type { PostgresProjection } from "./definition.ts";

/**
 * Counting stops here, so a scrape reads at most this many events however far
 * behind the projection is (one page of readAll): beyond it "far behind" is
 * all a dashboard needs, and `secondsBehind` (the oldest unapplied event's
 * age) still says how far.
 */
export const LAG_COUNT_MAX_DEFAULT = 1_000;

export interface ProjectionLag {
  /** Events the projection reads that are after its checkpoint, counted up to `lagCountMax`. */
  readonly positionsBehind: number;
  /** True when counting stopped at the cap: the projection is at least that far behind. */
  readonly positionsBehindCapped: boolean;
  /**
   * Committed events after those, for this projection, that a running
   * transaction still hides from every reader (see the event store's
   * visibility()); counted up to one page. The worker cannot apply them yet.
   */
  readonly heldBackEvents: number;
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
  if (!Number.isInteger(lagCountMax) || lagCountMax < 1 || lagCountMax > READ_COUNT_MAX) throw new RangeError(`lagCountMax must be in 1..${READ_COUNT_MAX}`);
  const checkpoint = (await readCheckpoint(pool, projection, projection.schemaName))?.position;
  const head = await eventStore.headPosition();
  // One page, never more: the cost of a look is bounded by lagCountMax, not by the lag.
  const page = await eventStore.readAll({ after: checkpoint, filter: projection.filter, maxCount: lagCountMax });
  const positionsBehind = page.length;
  let oldest = page[0]?.recordedAt;
  // Then against the newest COMMITTED event: a transaction left open anywhere on the server holds newer events
  // back from the worker, and that must show as lag, not as "caught up" while nothing moves. One bounded page.
  let heldBackEvents = 0;
  if (positionsBehind < lagCountMax) {
    const after = page[page.length - 1]?.position ?? checkpoint;
    const held = await eventStore.readAll({ after, filter: projection.filter, maxCount: lagCountMax - positionsBehind, includeHeldBack: true });
    oldest ??= held[0]?.recordedAt;
    heldBackEvents = held.length;
  }
  const nowMs = (options.now?.() ?? new Date()).getTime();
  const secondsBehind = oldest === undefined ? 0 : Math.max(0, (nowMs - oldest.getTime()) / 1000);
  return { positionsBehind, positionsBehindCapped: positionsBehind >= lagCountMax, heldBackEvents, secondsBehind, checkpoint, head };
}
