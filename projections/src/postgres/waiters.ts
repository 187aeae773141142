// Read-your-writes waits, shared per process and projection. A request that
// waits for its command's position registers here; it costs a timer, not a
// query loop. The checkpoint is learned two ways: the worker in this process
// reports each commit (advanced), which wakes every satisfied waiter at once
// without a query; and ONE poller per instance reads the checkpoint while
// anyone waits, for a worker in another process (or a rebuild swapped in by
// one). The checkpoint only moves forward, so the highest position seen is a
// safe answer for every waiter at or below it.
import { TrueupError } from "@trueup/contracts";
import type { Position } from "@trueup/event-store";
import type pg from "pg";
import { readCheckpoint } from "./checkpoint.ts";
import type { PostgresProjection } from "./definition.ts";

export const WAITER_LIMITS = {
  /** Longest wait one request may ask for. */
  timeoutMaxMs: 60_000,
  /** Requests waiting at once per projection and process; one more is refused with 503 OVERLOADED. */
  waitersMax: 10_000,
  /** Poll interval when no worker in this process reports commits. */
  pollIntervalMs: 20,
  /** Poll interval when the worker in this process reports commits: only a safety net (a swap by another process). */
  fedPollIntervalMs: 1_000,
} as const;

export interface CheckpointWaitersOptions {
  readonly pool: pg.Pool;
  readonly projection: PostgresProjection;
  readonly pollIntervalMs?: number;
  readonly waitersMax?: number;
}

interface Waiter {
  readonly position: Position;
  readonly resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

export class CheckpointWaiters {
  private readonly waiters = new Set<Waiter>();
  private readonly pollIntervalMs: number;
  private readonly waitersMax: number;
  /** Highest checkpoint seen (reported or read). */
  private known: Position | undefined;
  private polling = false;

  constructor(private readonly options: CheckpointWaitersOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? WAITER_LIMITS.pollIntervalMs;
    this.waitersMax = options.waitersMax ?? WAITER_LIMITS.waitersMax;
    if (!(Number.isInteger(this.pollIntervalMs) && this.pollIntervalMs >= 1 && this.pollIntervalMs <= WAITER_LIMITS.timeoutMaxMs)) {
      throw new RangeError(`pollIntervalMs must be an integer in 1..${WAITER_LIMITS.timeoutMaxMs}`);
    }
    if (!(Number.isInteger(this.waitersMax) && this.waitersMax >= 1 && this.waitersMax <= 1_000_000)) throw new RangeError("waitersMax must be an integer in 1..10^6");
  }

  /** Requests waiting now. */
  get size(): number {
    return this.waiters.size;
  }

  /** The checkpoint reached `position` (the worker in this process committed it): wakes every waiter it satisfies. */
  advanced(position: Position | undefined): void {
    if (position === undefined || (this.known !== undefined && position <= this.known)) return;
    this.known = position;
    for (const waiter of this.waiters) if (waiter.position <= position) this.settle(waiter, true);
  }

  /**
   * True once the checkpoint is at or past `position`, false after `timeoutMs`
   * (answered from the last look, at most one poll interval old). Throws
   * OVERLOADED when waitersMax requests already wait.
   */
  async wait(position: Position, timeoutMs: number): Promise<boolean> {
    if (!(timeoutMs >= 0 && timeoutMs <= WAITER_LIMITS.timeoutMaxMs)) throw new RangeError(`timeoutMs must be in 0..${WAITER_LIMITS.timeoutMaxMs}`);
    if (this.reached(position)) return true;
    if (this.waiters.size >= this.waitersMax) {
      throw new TrueupError("OVERLOADED", `${this.waitersMax} reads already wait for projection ${this.options.projection.name} to catch up; retry`);
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { position, resolve, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.settle(waiter, this.reached(position));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.poll();
    });
  }

  private reached(position: Position): boolean {
    return this.known !== undefined && this.known >= position;
  }

  private settle(waiter: Waiter, reached: boolean): void {
    if (!this.waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    waiter.resolve(reached);
  }

  /** Starts the one poller unless it runs; it stops by itself when nobody waits. */
  private poll(): void {
    if (this.polling) return;
    this.polling = true;
    void this.pollWhileWaited().finally(() => {
      this.polling = false;
    });
  }

  private async pollWhileWaited(): Promise<void> {
    const { pool, projection } = this.options;
    while (this.waiters.size > 0) {
      try {
        this.advanced((await readCheckpoint(pool, projection, projection.schemaName))?.position);
      } catch {
        // Storage away: nobody is told "reached" wrongly; the waiters time out, the next look retries.
      }
      if (this.waiters.size === 0) return;
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
    }
  }
}
