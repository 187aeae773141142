// The write-off process manager: the one way a reconciliation decision
// reaches the ledger. It reacts to WriteOffRequested (appended with a
// match's confirmation) by posting the write-off's journal entry through the
// ledger's own command path, then records the outcome (WriteOffPosted, or
// WriteOffRefused when the ledger turns it down: a closed period, a closed
// account) in the account's recon stream.
//
// Exactly once, across a crash at any instant: both commands carry ids
// derived from the request's event id, and the entry's id from the match
// (writeOffEntryId), so handling the same event again (the runner replays
// from its checkpoint after a crash) finds both commands already in their
// streams and writes nothing; the runner checkpoints only after `handle`
// returns. What the ledger refuses is recorded, not retried; what is
// transient (storage away, a concurrent write) is thrown as
// StoreUnavailableError for the runner to retry with backoff.
import { TrueupError, WRITE_OFF_METADATA_KEY, currencyOf, parseReconciliationEvent } from "@trueup/contracts";
import type { PostJournalEntryBody, ReconciliationEvent } from "@trueup/contracts";
import type { RecordedEvent } from "@trueup/event-store";
import type { CommandContext } from "../../command.ts";
import type { LedgerCommandService } from "../../ledger/service.ts";
import type { MatchCommandService } from "../matches/service.ts";
import { isTransient, transientAsStoreError } from "../transient.ts";

type Requested = Extract<ReconciliationEvent, { type: "WriteOffRequested" }>["data"];
type ReversalRequested = Extract<ReconciliationEvent, { type: "WriteOffReversalRequested" }>["data"];

/** Who the write-off's commands are recorded as. */
export const WRITE_OFF_ACTOR = "process:write-offs";

type PostOutcome = { readonly outcome: "posted"; readonly entryId: string } | { readonly outcome: "refused"; readonly code: string; readonly message: string };
type ReversalOutcome = { readonly outcome: "reversed"; readonly reversalEntryId: string } | { readonly outcome: "reversal-refused"; readonly code: string; readonly message: string };
export type WriteOffOutcome = PostOutcome | ReversalOutcome;
type Side = "debit" | "credit";

export interface WriteOffProcessDeps {
  readonly ledger: Pick<LedgerCommandService, "postEntry" | "reverseEntry">;
  readonly matches: Pick<MatchCommandService, "recordWriteOff">;
}

/** The write-off's journal entry: the bank's ledger account against the write-off account, by the difference. */
export function writeOffEntry(request: Requested): PostJournalEntryBody {
  const currency = currencyOf(request.currency);
  if (currency === undefined) throw new TypeError(`write-off in ${request.currency}, which the ledger does not know`);
  const signed = BigInt(request.amountMinor);
  const amountMinor = signed < 0n ? -signed : signed;
  // Negative: the bank paid in less than the books expected (a fee), so the bank's account is credited.
  const bankSide: Side = signed < 0n ? "credit" : "debit";
  const otherSide: Side = signed < 0n ? "debit" : "credit";
  return {
    entryId: request.entryId,
    effectiveDate: request.effectiveDate,
    // An exception's id carries "~" (exceptionIdSchema); a match's never does.
    description: request.matchId.includes("~") ? `Write-off of exception ${request.matchId}` : `Write-off of match ${request.matchId}`,
    metadata: { [WRITE_OFF_METADATA_KEY]: request.matchId, bankAccountId: request.bankAccountId },
    lines: [
      { accountCode: request.bankLedgerAccount, side: bankSide, amountMinor, currency: currency.code },
      { accountCode: request.writeOffAccount, side: otherSide, amountMinor, currency: currency.code },
    ],
  };
}

export class WriteOffProcess {
  constructor(private readonly deps: WriteOffProcessDeps) {}

  /** Handles one event of a recon stream; anything but a WriteOffRequested or WriteOffReversalRequested is none of its business. */
  async handle(event: RecordedEvent): Promise<WriteOffOutcome | undefined> {
    if (event.type !== "WriteOffRequested" && event.type !== "WriteOffReversalRequested") return undefined;
    const parsed = parseReconciliationEvent(event);
    const ctx = (step: string): CommandContext => ({ commandId: `writeoff:${event.eventId}:${step}`, actor: WRITE_OFF_ACTOR, correlationId: event.metadata.correlationId, occurredAt: event.recordedAt });
    if (parsed.type === "WriteOffReversalRequested") return this.reverse(ctx, parsed.data);
    if (parsed.type !== "WriteOffRequested") return undefined;
    const request = parsed.data;
    const outcome = await transientAsStoreError("write-off", () => this.post(ctx("post"), request));
    const { bankAccountId, matchId } = request;
    await transientAsStoreError("write-off", () =>
      this.deps.matches.recordWriteOff(ctx("outcome"), {
        type: "RecordWriteOff",
        data: outcome.outcome === "posted"
          ? { outcome: "posted", bankAccountId, matchId, ledgerId: request.ledgerId, entryId: outcome.entryId }
          : { outcome: "refused", bankAccountId, matchId, code: outcome.code, message: outcome.message },
      }),
    );
    return outcome;
  }

  /** A posted write-off whose match was unmatched: its entry reversed through the ledger, then the outcome recorded. */
  private async reverse(ctx: (step: string) => CommandContext, request: ReversalRequested): Promise<ReversalOutcome> {
    const { bankAccountId, matchId, ledgerId, entryId, reversalEntryId } = request;
    const outcome = await transientAsStoreError("write-off", async (): Promise<ReversalOutcome> => {
      try {
        await this.deps.ledger.reverseEntry(
          ctx("reverse"), ledgerId, entryId,
          { effectiveDate: request.effectiveDate, reversalEntryId, description: `Reversal of the write-off of match ${matchId} (unmatched)` },
          // Marked like the write-off: the reversal's bank line is no item either.
          { metadata: { [WRITE_OFF_METADATA_KEY]: matchId, bankAccountId } },
        );
        return { outcome: "reversed", reversalEntryId };
      } catch (error) {
        if (!(error instanceof TrueupError) || isTransient(error)) throw error;
        // The reversal's id is the match's: an entry already there, or the write-off already reversed by it, is this reversal.
        if (error.code === "ENTRY_ALREADY_EXISTS" || error.code === "ENTRY_ALREADY_REVERSED") return { outcome: "reversed", reversalEntryId };
        return { outcome: "reversal-refused", code: error.code, message: error.message };
      }
    });
    await transientAsStoreError("write-off", () =>
      this.deps.matches.recordWriteOff(ctx("reversal-outcome"), {
        type: "RecordWriteOff",
        data: outcome.outcome === "reversed"
          ? { outcome: "reversed", bankAccountId, matchId, ledgerId, reversalEntryId }
          : { outcome: "reversal-refused", bankAccountId, matchId, code: outcome.code, message: outcome.message },
      }),
    );
    return outcome;
  }

  private async post(ctx: CommandContext, request: Requested): Promise<PostOutcome> {
    try {
      const posted = await this.deps.ledger.postEntry(ctx, request.ledgerId, writeOffEntry(request));
      return { outcome: "posted", entryId: posted.entryId };
    } catch (error) {
      if (!(error instanceof TrueupError) || isTransient(error)) throw error;
      // The entry id is the match's: an entry already there is this write-off, posted by an earlier attempt.
      if (error.code === "ENTRY_ALREADY_EXISTS") return { outcome: "posted", entryId: request.entryId };
      return { outcome: "refused", code: error.code, message: error.message };
    }
  }
}
