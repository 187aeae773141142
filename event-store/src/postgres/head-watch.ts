// One watcher of the visible head for every waitForAppend of a store. Each
// projection worker that has caught up waits for "something after my
// checkpoint"; asked separately, every append woke every waiter into a query
// of its own, so N workers made N queries per append (and per held-back
// retry): during a reconciliation run's appends, those polls were the
// busiest statement on the server (BENCHMARKS.md, "Matching"). Here one
// query per round reads the newest visible position and whether committed
// events are held back, and answers every waiter behind that head. A round
// starts when a waiter arrives, when the live signal says something may have
// been appended, or when the held-back retry is due; appends during a round
// mark the signal pending, so they cost one more round, not one per waiter.
import { decodePosition } from "../port.ts";
import type { Position } from "../port.ts";

export interface HeadReading {
  /** The newest position readAll can return now, or undefined for an empty (or wholly held-back) log. */
  readonly head: Position | undefined;
  /** Committed events are held back by a running transaction. */
  readonly heldBack: boolean;
}

export interface SignalWaiter {
  wait(heldBack: boolean): Promise<void>;
  wake(): void;
  close(): void;
}

interface Waiting {
  readonly after: { readonly major: bigint; readonly minor: bigint } | undefined;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export interface HeadWatchOptions {
  /** One statement, one snapshot: the visible head and the held-back flag. */
  readonly read: () => Promise<HeadReading>;
  /**
   * A waiter of the store's live signal, asked for at the first wait (so a
   * store that never waits opens no LISTEN connection): wait(heldBack)
   * returns when a new round is due, wake() ends that wait now.
   */
  readonly signal: () => SignalWaiter;
  readonly onReading?: (reading: HeadReading) => void;
}

const behind = (after: Waiting["after"], head: { major: bigint; minor: bigint }): boolean =>
  after === undefined || after.major < head.major || (after.major === head.major && after.minor < head.minor);

export class HeadWatch {
  private readonly waiting = new Set<Waiting>();
  private looping = false;
  private closed = false;
  private signal: SignalWaiter | undefined;

  constructor(private readonly options: HeadWatchOptions) {}

  /** Resolves once something after `after` is visible; rejects with the signal's reason, or with a failed round's error. */
  wait(after: Position | undefined, abort?: AbortSignal): Promise<void> {
    if (abort?.aborted === true) return Promise.reject(abort.reason as Error);
    if (this.closed) return Promise.reject(new Error("event store closed"));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiting.delete(entry);
        reject(abort?.reason as Error);
      };
      const entry: Waiting = {
        after: after === undefined ? undefined : decodePosition(after),
        resolve: () => {
          abort?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (error) => {
          abort?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      abort?.addEventListener("abort", onAbort, { once: true });
      this.waiting.add(entry);
      this.wake();
    });
  }

  close(): void {
    this.closed = true;
    this.signal?.close();
    const error = new Error("event store closed");
    for (const entry of this.waiting) entry.reject(error);
    this.waiting.clear();
    this.wake();
  }

  /** A waiter arrived (or the store closed): a fresh round, now or right after the one in flight. */
  private wake(): void {
    if (this.looping) this.signal?.wake();
    else void this.loop();
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.waiting.size > 0 && !this.closed) {
        let reading: HeadReading;
        try {
          reading = await this.options.read();
        } catch (error) {
          // Every waiter of this round asked for an answer the store could not give: each decides what to do next.
          const failure = error instanceof Error ? error : new Error(String(error));
          for (const entry of this.waiting) entry.reject(failure);
          this.waiting.clear();
          return;
        }
        this.options.onReading?.(reading);
        if (reading.head !== undefined) {
          const head = decodePosition(reading.head);
          for (const entry of this.waiting) {
            if (!behind(entry.after, head)) continue;
            this.waiting.delete(entry);
            entry.resolve();
          }
        }
        if (this.waiting.size === 0) return;
        this.signal ??= this.options.signal();
        await this.signal.wait(reading.heldBack);
      }
    } finally {
      this.looping = false;
    }
  }
}
