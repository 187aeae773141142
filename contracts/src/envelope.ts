// The event envelope every event in the log carries: type, schema version,
// data and the audit metadata (who, why, in answer to what, when).
import { z } from "zod";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A validated value (zod output: plain objects, arrays, strings, finite
 * numbers, booleans, null) as JSON, with absent optional members left out
 * as JSON leaves them. Anything else (a bigint, a Date, NaN) is a bug in the
 * caller, so it throws.
 */
export function jsonValueOf(value: unknown): JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (Array.isArray(value)) return value.map(jsonValueOf);
  if (typeof value === "object") {
    const object: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) object[key] = jsonValueOf(item);
    return object;
  }
  throw new TypeError(`not JSON: a ${typeof value}`);
}

export const EVENT_TYPE_LENGTH_MAX = 100;
export const eventTypeSchema = z
  .string()
  .min(1)
  .max(EVENT_TYPE_LENGTH_MAX)
  .regex(/^[A-Z][A-Za-z0-9]*$/, "event types are PascalCase, past tense");

export const eventMetadataSchema = z.object({
  actor: z.string().min(1).max(200),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200),
  commandId: z.string().min(1).max(200),
  occurredAt: z.iso.datetime({ offset: true }),
  /** Hash chain (tamper evidence): hash of the previous event of the same stream, and of this one. */
  previousHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  hash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type EventMetadata = z.infer<typeof eventMetadataSchema>;

export interface EventEnvelope<Type extends string = string, Data = JsonValue> {
  readonly type: Type;
  readonly schemaVersion: number;
  readonly data: Data;
  readonly metadata: EventMetadata;
}
