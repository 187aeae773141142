// A pulled subscription to the PostgreSQL log. It holds at most one page of
// events, and reads the next page only once the consumer has taken every
// event of the last one: the page size is the buffer bound, so a slow
// consumer slows the reads instead of growing memory. When a page comes back
// empty it waits for the live signal (an append here, a NOTIFY from
// elsewhere, or the re-check while a running transaction holds newer events
// back).
import type { EventFilter, Position, RecordedEvent } from "../port.ts";
import { PulledSubscription } from "../port.ts";

export interface SubscriptionPage {
  readonly events: RecordedEvent[];
  /** Newer committed events exist but a running transaction keeps them invisible. */
  readonly heldBack: boolean;
}

export interface PostgresSubscriptionOptions {
  readonly after: Position | undefined;
  readonly filter: EventFilter | undefined;
  /** Page size and buffer bound. */
  readonly bufferEventsMax: number;
  readonly readPage: (options: { after: Position | undefined; filter: EventFilter | undefined; maxCount: number }) => Promise<SubscriptionPage>;
  readonly waiter: { wait: (heldBack: boolean) => Promise<void>; close: () => void };
  /** Maps a driver failure to the port's errors. */
  readonly mapError: (error: unknown) => unknown;
}

export class PostgresSubscription extends PulledSubscription {
  private page: RecordedEvent[] = [];
  private taken = 0;
  private after: Position | undefined;
  private closed = false;
  private failure: { error: unknown } | undefined;

  constructor(private readonly options: PostgresSubscriptionOptions) {
    super();
    this.after = options.after;
  }

  get bufferedEvents(): number {
    return this.page.length - this.taken;
  }

  close(): Promise<void> {
    this.closed = true;
    this.page = [];
    this.taken = 0;
    this.options.waiter.close();
    return Promise.resolve();
  }

  /** A method, not a property read: close() may run while next() awaits. */
  private isClosed(): boolean {
    return this.closed;
  }

  protected async pull(): Promise<IteratorResult<RecordedEvent>> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure.error;
      if (this.isClosed()) return { done: true, value: undefined };
      const event = this.page[this.taken];
      if (event !== undefined) {
        this.taken += 1;
        this.after = event.position;
        return { done: false, value: event };
      }
      let page: SubscriptionPage;
      try {
        page = await this.options.readPage({ after: this.after, filter: this.options.filter, maxCount: this.options.bufferEventsMax });
      } catch (error) {
        // Sticky: a consumer resubscribes from its checkpoint rather than continuing past an unknown gap.
        this.failure = { error: this.options.mapError(error) };
        this.options.waiter.close();
        continue;
      }
      if (this.isClosed()) continue;
      this.page = page.events;
      this.taken = 0;
      if (page.events.length === 0) await this.options.waiter.wait(page.heldBack);
    }
  }
}
