// A pulled subscription over the client's catch-up subscription to $all.
// The client's AllStreamSubscription is a Node Transform piped from the gRPC
// call, so backpressure already runs end to end once nobody reads in flowing
// mode: we iterate it (paused mode, one event per next()), the Transform
// holds at most its high-water mark on each side, pipe() pauses the gRPC
// stream, and HTTP/2 flow control stops the server. What the process holds
// for us is therefore readable + writable buffer ≤ 2 × highWaterMark, which
// is chosen as ⌊bufferEventsMax / 2⌋. At a high-water mark of 0 the
// Transform still holds one event on each side (the one it is converting
// and the one converted), so this adapter's bound is
// max(bufferEventsMax, ESDB_BUFFER_EVENTS_MIN).
// gRPC's own flow-control window (bytes in flight, not decoded events) comes
// on top and is bounded by grpc-js, not by us.
import type { EventFilter, Position, RecordedEvent } from "../port.ts";
import { PulledSubscription, StoreUnavailableError } from "../port.ts";
import { pickMatching } from "./mapping.ts";
import type { EsdbRecord } from "./mapping.ts";

/** The part of the client's subscription we use. */
export interface SubscriptionStream extends AsyncIterable<{ readonly event?: EsdbRecord | undefined }> {
  readonly readableLength: number;
  /** The client types its subscription as a Readable; at run time it is a Transform with a writable side too. */
  readonly writableLength?: number;
  unsubscribe(): Promise<void>;
  destroy(): unknown;
}

/** What the client's Transform holds at a high-water mark of 0: one event on each side. */
export const ESDB_BUFFER_EVENTS_MIN = 2;

/** The high-water mark that keeps both sides of the client's Transform within `bufferEventsMax`. */
export function highWaterMarkFor(bufferEventsMax: number): number {
  return Math.floor(bufferEventsMax / 2);
}

export class EsdbSubscription extends PulledSubscription {
  private readonly iterator: AsyncIterator<{ readonly event?: EsdbRecord | undefined }>;
  private after: Position | undefined;
  private closed = false;

  constructor(
    private readonly stream: SubscriptionStream,
    private readonly options: { readonly after: Position | undefined; readonly filter: EventFilter | undefined; readonly mapError: (error: unknown) => unknown },
  ) {
    super();
    this.after = options.after;
    this.iterator = stream[Symbol.asyncIterator]();
  }

  get bufferedEvents(): number {
    return this.closed ? 0 : this.stream.readableLength + (this.stream.writableLength ?? 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // unsubscribe() cancels the gRPC call; destroy() drops what the Node stream buffered.
    await this.stream.unsubscribe().catch(() => undefined);
    this.stream.destroy();
  }

  /**
   * Skips the event at `after` (and anything at or before the last delivered
   * position, so order and exactly-once hold across the catch-up/live
   * switch), system events and what the server's prefix filter over-matched.
   */
  /** A method, not a property read: close() may run while next() awaits. */
  private isClosed(): boolean {
    return this.closed;
  }

  protected async pull(): Promise<IteratorResult<RecordedEvent>> {
    for (;;) {
      if (this.isClosed()) return { done: true, value: undefined };
      let item: IteratorResult<{ readonly event?: EsdbRecord | undefined }>;
      try {
        item = await this.iterator.next();
      } catch (error) {
        if (this.isClosed()) return { done: true, value: undefined };
        throw this.options.mapError(error);
      }
      if (this.isClosed()) return { done: true, value: undefined };
      // A live subscription never ends by itself: the server or the connection went away.
      if (item.done === true) throw new StoreUnavailableError("EventStoreDB ended the subscription; resubscribe from the last checkpoint");
      const record = item.value.event;
      if (record === undefined) continue;
      const page = pickMatching([record], { after: this.after, filter: this.options.filter, countMax: 1 });
      this.after = page.lastSeen ?? this.after;
      const event = page.events[0];
      if (event !== undefined) return { done: false, value: event };
    }
  }
}
