// What a process manager retries: a command's failure that says "try again"
// (storage away, overload, a race lost, a read model not there yet), never
// a verdict on the command itself. Thrown to the projection runner as the
// port's StoreUnavailableError, which it retries with backoff for as long as
// it lasts; anything else is the process manager's to record or to stop on.
import { TrueupError } from "@trueup/contracts";
import { StoreUnavailableError } from "@trueup/event-store";
import { ReceiptConflictError, StaleDecisionError } from "../command.ts";

const TRANSIENT_CODES: ReadonlySet<string> = new Set(["STORE_UNAVAILABLE", "OVERLOADED", "CONCURRENCY_CONFLICT", "READ_MODEL_NOT_READY", "READ_MODEL_BEHIND"]);

/** True for a failure that means "try again", never a refusal of the command. */
export function isTransient(error: unknown): boolean {
  return (error instanceof TrueupError && TRANSIENT_CODES.has(error.code)) || error instanceof StaleDecisionError || error instanceof ReceiptConflictError;
}

/** `work`, with a transient failure rethrown as StoreUnavailableError (`what` says whose), for the runner to retry. */
export async function transientAsStoreError<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isTransient(error)) throw new StoreUnavailableError(`${what}: ${(error as Error).message}; retried`, { cause: error });
    throw error;
  }
}
