// A command's answer kept under its idempotency key, and who sent the
// command. Shared by the key store (which writes receipts) and the stream
// writer (which can store them in the transaction of the command's events).
/** Who sent a command: part of its events' metadata. */
export interface Origin {
  readonly actor: string;
  readonly correlationId: string;
}

/** The answer to a command whose key was free, stored with its events (see IdempotencyStore.receiptWrite). */
export interface Receipt {
  readonly scope: string;
  readonly key: string;
  readonly hash: string;
  readonly origin: Origin;
  /** The command's time (its events' occurredAt): a retry after a lost answer must reproduce it. */
  readonly firstSeenAt: Date;
  readonly statusCode: number;
  /** The answer's body; its `position` is filled in from the append. */
  readonly response: Readonly<Record<string, unknown>>;
}
