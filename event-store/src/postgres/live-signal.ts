// Wakes subscriptions when new events may be readable, without busy polling:
// - appends in this process wake local subscribers at once;
// - appends elsewhere arrive by LISTEN on a dedicated connection;
// - NOTIFY is sent outside the append transaction and coalesced (at most one
//   per NOTIFY_COALESCE_MS), because a NOTIFY inside a transaction takes a
//   database-wide lock at commit and would serialise concurrent appends.
// A slow safety tick covers a writer that died between commit and NOTIFY.
import pg from "pg";

export const NOTIFY_COALESCE_MS = 10;
/** Re-check interval while a running transaction holds newer events back. */
export const HELD_BACK_RETRY_MS = { first: 2, max: 100 } as const;
/** Idle re-check while LISTEN works / while it is down. */
export const SAFETY_TICK_MS = { listening: 5_000, deaf: 250 } as const;
export const LISTEN_RECONNECT_MS = 2_000;

interface Waiter {
  pending: boolean;
  wake: (() => void) | undefined;
  heldBackStreak: number;
}

export class LiveSignal {
  private readonly waiters = new Set<Waiter>();
  private notifyTimer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private listening = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: { pool: pg.Pool; channel: string; connection: pg.ClientConfig }) {}

  /** Called after every successful append in this process. */
  appended(): void {
    this.wakeAll();
    if (this.notifyTimer !== undefined || this.closed) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      // Best effort: a lost NOTIFY only delays other processes to their safety tick.
      this.options.pool.query("SELECT pg_notify($1, '')", [this.options.channel]).catch(() => undefined);
    }, NOTIFY_COALESCE_MS);
  }

  /** `wake` ends this waiter's current wait (or makes its next one return at once), as an append would. */
  waiter(): { wait: (heldBack: boolean) => Promise<void>; wake: () => void; close: () => void } {
    const waiter: Waiter = { pending: false, wake: undefined, heldBackStreak: 0 };
    this.waiters.add(waiter);
    this.ensureListening();
    return {
      wait: (heldBack) => this.wait(waiter, heldBack),
      wake: () => {
        waiter.pending = true;
        waiter.wake?.();
      },
      close: () => {
        this.waiters.delete(waiter);
        waiter.wake?.();
      },
    };
  }

  private wait(waiter: Waiter, heldBack: boolean): Promise<void> {
    waiter.heldBackStreak = heldBack ? waiter.heldBackStreak + 1 : 0;
    if (waiter.pending || this.closed || !this.waiters.has(waiter)) {
      waiter.pending = false;
      return Promise.resolve();
    }
    const delayMs = heldBack
      ? Math.min(HELD_BACK_RETRY_MS.first * 2 ** (waiter.heldBackStreak - 1), HELD_BACK_RETRY_MS.max)
      : this.listening
        ? SAFETY_TICK_MS.listening
        : SAFETY_TICK_MS.deaf;
    return new Promise((resolve) => {
      const timer = setTimeout(done, delayMs);
      function done(): void {
        clearTimeout(timer);
        waiter.wake = undefined;
        waiter.pending = false;
        resolve();
      }
      waiter.wake = done;
    });
  }

  private wakeAll(): void {
    for (const waiter of this.waiters) {
      waiter.pending = true;
      waiter.wake?.();
    }
  }

  private ensureListening(): void {
    if (this.listener !== undefined || this.reconnectTimer !== undefined || this.closed) return;
    const client = new pg.Client(this.options.connection);
    this.listener = client;
    const fail = (): void => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.listening = false;
      client.end().catch(() => undefined);
      if (this.closed || this.waiters.size === 0) return;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        this.ensureListening();
      }, LISTEN_RECONNECT_MS);
      this.reconnectTimer.unref();
    };
    client.on("notification", () => {
      this.wakeAll();
    });
    client.on("error", fail);
    client.on("end", fail);
    client
      .connect()
      .then(() => client.query(`LISTEN ${client.escapeIdentifier(this.options.channel)}`))
      .then(() => {
        if (this.listener !== client) return;
        this.listening = true;
        // Anything appended while we were deaf: let every waiter look again.
        this.wakeAll();
      })
      .catch(fail);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.notifyTimer);
    clearTimeout(this.reconnectTimer);
    this.wakeAll();
    this.waiters.clear();
    const listener = this.listener;
    this.listener = undefined;
    this.listening = false;
    await listener?.end().catch(() => undefined);
  }
}
