// The event store's own group commit, as the command side uses it, with
// nothing else around it: writers submit one event each; while an append to
// the stream is in flight, what arrives waits and goes together in the next
// append (up to `batchSizeMax`), with the exact expected revision. One
// append in flight per stream, as the command side's writer does: the
// stream's revision is the serial path. Used as the limit the HTTP postings
// are compared with (no HTTP, no decision, no idempotency key).
import assert from "node:assert/strict";
import type { StreamName } from "@trueup/contracts";
import type { EventStore, ExpectedRevision, NewEvent } from "@trueup/event-store";

interface Waiting {
  readonly event: NewEvent;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommitAppender {
  private readonly queue: Waiting[] = [];
  private expectedRevision: ExpectedRevision = "no-stream";
  private appending = false;
  /** Appends made and events they carried, for the log line (mean batch size). */
  appends = 0;
  events = 0;

  constructor(
    private readonly store: EventStore,
    private readonly stream: StreamName,
    private readonly limits: { readonly batchSizeMax: number; readonly queueLengthMax: number },
  ) {
    assert.ok(limits.batchSizeMax >= 1 && limits.queueLengthMax >= 1);
  }

  submit(event: NewEvent): Promise<void> {
    // Closed-loop writers keep at most one event each queued; more means a bug in the bench.
    if (this.queue.length >= this.limits.queueLengthMax) return Promise.reject(new Error(`group-commit queue full (${this.limits.queueLengthMax} waiting)`));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.appending || this.queue.length === 0) return;
    this.appending = true;
    const batch = this.queue.splice(0, this.limits.batchSizeMax);
    try {
      const result = await this.store.append(
        this.stream,
        batch.map((w) => w.event),
        { expectedRevision: this.expectedRevision },
      );
      this.expectedRevision = result.nextExpectedRevision;
      this.appends += 1;
      this.events += batch.length;
      for (const w of batch) w.resolve();
    } catch (error) {
      for (const w of batch) w.reject(error);
    } finally {
      this.appending = false;
      void this.pump();
    }
  }
}
