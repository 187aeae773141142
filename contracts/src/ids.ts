// Branded identifiers and stream names. A brand stops a ledger id from being
// passed where an account id is expected, at no runtime cost.
import { randomUUID } from "node:crypto";
import { z } from "zod";

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type EventId = Brand<string, "EventId">;
export const eventIdSchema = z.string().regex(UUID_PATTERN, "must be a lowercase UUID").transform((s) => s as EventId);
export function newEventId(): EventId {
  return randomUUID() as EventId;
}

/** Ids chosen by clients (ledger ids, entry ids): short, URL-safe, no separators that clash with stream names. */
export const ENTITY_ID_LENGTH_MAX = 64;
const ENTITY_ID_PATTERN = /^[A-Za-z0-9_.:]+$/;
export function entityIdSchema<B extends string>(_brandName: B) {
  return z
    .string()
    .min(1)
    .max(ENTITY_ID_LENGTH_MAX)
    .regex(ENTITY_ID_PATTERN, "may contain only letters, digits, '_', '.', ':'")
    .transform((s) => s as Brand<string, B>);
}

/**
 * Stream names are `<category>-<id>`: the category is everything before the
 * first '-', so category subscriptions work the same in EventStoreDB ($ce-)
 * and in PostgreSQL.
 */
export type StreamName = Brand<string, "StreamName">;
export const STREAM_NAME_LENGTH_MAX = 200;
const CATEGORY_PATTERN = /^[a-z][a-zA-Z0-9]*$/;

export function isCategory(category: string): boolean {
  return CATEGORY_PATTERN.test(category);
}

export function streamName(category: string, id: string): StreamName {
  if (!isCategory(category)) throw new TypeError(`invalid stream category: ${JSON.stringify(category)}`);
  if (id.length === 0) throw new TypeError("stream id must not be empty");
  const name = `${category}-${id}`;
  if (name.length > STREAM_NAME_LENGTH_MAX) throw new TypeError(`stream name longer than ${STREAM_NAME_LENGTH_MAX}`);
  return name as StreamName;
}

export function parseStreamName(name: string): { category: string; id: string } | undefined {
  const dash = name.indexOf("-");
  if (dash <= 0 || dash === name.length - 1 || name.length > STREAM_NAME_LENGTH_MAX) return undefined;
  const category = name.slice(0, dash);
  if (!isCategory(category)) return undefined;
  return { category, id: name.slice(dash + 1) };
}

export const streamNameSchema = z
  .string()
  .refine((s) => parseStreamName(s) !== undefined, "must be '<category>-<id>'")
  .transform((s) => s as StreamName);
