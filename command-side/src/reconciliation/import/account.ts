// What an import reads of the log beyond the bank account itself (read with
// readBankAccount, bank-accounts/index.ts): the line ids of statements it
// may overlap, and a recorded statement's own event (its checks and position,
// for the answer of a re-import or of a retry that finds its commit there).
import type { EventStore, RecordedEvent } from "@trueup/event-store";
import { StreamNotFoundError } from "@trueup/event-store";
import { parseReconciliationEvent, statementStream } from "@trueup/contracts";
import type { EventId, ReconciliationEvent, StreamName } from "@trueup/contracts";
import { deterministicUuid } from "../../ids.ts";

export type ImportedData = Extract<ReconciliationEvent, { type: "StatementImported" }>["data"];

/** Line batches per read of a statement stream (each up to 500 lines of up to ~20 KiB). */
export const STATEMENT_READ_PAGE_EVENTS = 10;

async function* readPaged(store: EventStore, stream: StreamName, pageEvents: number): AsyncGenerator<RecordedEvent, void, undefined> {
  let from = 0n;
  for (;;) {
    let page: RecordedEvent[];
    try {
      page = await store.readStream(stream, { fromRevision: from, maxCount: pageEvents });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return;
      throw error;
    }
    yield* page;
    const last = page.at(-1);
    if (last === undefined || page.length < pageEvents) return;
    from = last.revision + 1n;
  }
}

/** Adds to `into` every line id recorded by a statement (its first `batches` batches: what its StatementImported names). */
export async function readLineIds(store: EventStore, statementId: string, batches: number, into: Set<string>): Promise<void> {
  if (batches === 0) return;
  for await (const event of readPaged(store, statementStream(statementId), STATEMENT_READ_PAGE_EVENTS)) {
    if (event.revision >= BigInt(batches)) return;
    const parsed = parseReconciliationEvent(event);
    if (parsed.type !== "StatementLinesRecorded") continue;
    for (const line of parsed.data.lines) into.add(line.lineId);
  }
}

/** The event id of a statement's StatementImported: fixed by the statement id, so a retried commit is the same event. */
export function importedEventId(statementId: string): EventId {
  return deterministicUuid(statementId, "imported");
}

/** The id of a statement's k-th line batch. */
export function batchEventId(statementId: string, batchIndex: number): EventId {
  return deterministicUuid(statementId, "batch", String(batchIndex));
}

/** A recorded statement's StatementImported with where it is in the log, or undefined. */
export async function readImported(store: EventStore, statementId: string): Promise<{ data: ImportedData; revision: bigint; position: string } | undefined> {
  const event = await store.readEventById(importedEventId(statementId));
  if (event === undefined) return undefined;
  const parsed = parseReconciliationEvent(event);
  if (parsed.type !== "StatementImported") throw new Error(`event ${event.eventId} of statement ${statementId} is a ${parsed.type}`);
  return { data: parsed.data, revision: event.revision, position: event.position };
}
