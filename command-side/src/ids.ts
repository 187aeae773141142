// Deterministic ids: the same command always produces the same event ids, so
// a retried command is recognised by the event store instead of written twice.
import { createHash } from "node:crypto";
import type { EventId } from "@trueup/contracts";

export function deterministicUuid(...parts: string[]): EventId {
  const hex = createHash("sha256").update(parts.join("\u001f")).digest("hex");
  // RFC 9562 layout, version 8 (custom), variant 10.
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}` as EventId;
}

/** A short id for an entity derived from the command that creates it (letters and digits only). */
export function derivedEntityId(prefix: string, ...parts: string[]): string {
  return `${prefix}${createHash("sha256").update(parts.join("\u001f")).digest("hex").slice(0, 24)}`;
}
