// An exception's id is what it is about, spelled so a URL can carry it:
// `<bankAccountId>~<kind>~<side>~<item id as base64url>`. The command that
// resolves one reads its item from it (no lookup of a list that may have
// moved on), and an item has one exception per kind, so listing the same
// exception twice gives the same id.
import { EXCEPTION_KINDS, exceptionIdSchema } from "./events.ts";
import type { ExceptionKind } from "./events.ts";

export interface ExceptionSubject {
  readonly bankAccountId: string;
  readonly kind: ExceptionKind;
  readonly side: "external" | "internal";
  readonly itemId: string;
}

export function exceptionIdOf(subject: ExceptionSubject): string {
  return `${subject.bankAccountId}~${subject.kind}~${subject.side}~${Buffer.from(subject.itemId, "utf8").toString("base64url")}`;
}

/** The subject of an exception id, or undefined when it is not one we could have listed. */
export function parseExceptionId(id: string): ExceptionSubject | undefined {
  if (!exceptionIdSchema.safeParse(id).success) return undefined;
  const [bankAccountId, kind, side, encoded] = id.split("~");
  if (bankAccountId === undefined || encoded === undefined) return undefined;
  const itemId = Buffer.from(encoded, "base64url").toString("utf8");
  const known = EXCEPTION_KINDS.find((k) => k === kind);
  // Round-trips only for what exceptionIdOf wrote: a hand-made id with other padding or invalid UTF-8 is not one.
  if (known === undefined || (side !== "external" && side !== "internal") || itemId.length === 0) return undefined;
  const subject: ExceptionSubject = { bankAccountId, kind: known, side, itemId };
  return exceptionIdOf(subject) === id ? subject : undefined;
}
