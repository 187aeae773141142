// Time and size bounds around the client's calls. Its streaming reads run with
// a gRPC deadline of Infinity (dist/streams/readAll.js passes `deadline:
// Infinity`), so a read is bounded here: by a timer that cancels it, and by
// the number of items we accept from it.
import { StoreUnavailableError } from "../port.ts";

/** The part of the client's StreamingRead we use: a Node readable that can be cancelled. */
export interface CancellableRead<E> {
  on(event: "data", listener: (item: E) => void): this;
  on(event: "end", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  cancel(): Promise<void>;
  destroy(): this;
}

/** Reads all items of one bounded read; rejects with StoreUnavailable after `timeoutMs`. */
export function collect<E>(read: CancellableRead<E>, options: { readonly timeoutMs: number; readonly countMax: number }): Promise<E[]> {
  return new Promise((resolve, reject) => {
    const items: E[] = [];
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) {
        resolve(items);
        return;
      }
      // The gRPC call keeps running unless cancelled; cancel() swallows its own CANCELLED status.
      read.cancel().catch(() => undefined);
      read.destroy();
      reject(error);
    };
    const timer = setTimeout(() => {
      finish(new StoreUnavailableError(`event store read timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    read.on("data", (item) => {
      items.push(item);
      if (items.length > options.countMax) finish(new Error(`event store read returned more than the ${options.countMax} items asked for`));
    });
    read.on("end", () => {
      finish();
    });
    // `on`, not `once`: a late error after we settled must still have a listener.
    read.on("error", (error) => {
      finish(error);
    });
  });
}

/** Bounds a promise the client gives us no other way to bound; the operation's outcome is then unknown. */
export function withTimeout<T>(promise: Promise<T>, options: { readonly timeoutMs: number; readonly what: string }): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new StoreUnavailableError(`${options.what} timed out after ${options.timeoutMs} ms; its outcome is unknown`));
    }, options.timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
