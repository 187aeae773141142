// Schema evolution without rewriting history: an upcaster turns version N of
// an event type into version N+1. Reading applies the chain up to the current
// version, so deciders and projections only ever see current shapes.
import type { EventEnvelope, JsonValue } from "./envelope.ts";

/** What reading an event from the log needs of it. */
export type StoredEventShape = Pick<EventEnvelope, "type" | "schemaVersion" | "data">;

export type Upcaster = (data: JsonValue) => JsonValue;

export class UpcastError extends Error {
  override readonly name = "UpcastError";
}

export class UpcasterRegistry {
  private readonly steps = new Map<string, Map<number, Upcaster>>();
  private readonly current = new Map<string, number>();

  /** Registers the step from `fromVersion` to `fromVersion + 1` of `type`. */
  register(type: string, fromVersion: number, upcast: Upcaster): this {
    if (!Number.isInteger(fromVersion) || fromVersion < 1) throw new UpcastError(`bad version ${fromVersion} for ${type}`);
    const byVersion = this.steps.get(type) ?? new Map<number, Upcaster>();
    if (byVersion.has(fromVersion)) throw new UpcastError(`${type} v${fromVersion} already has an upcaster`);
    byVersion.set(fromVersion, upcast);
    this.steps.set(type, byVersion);
    this.current.set(type, Math.max(this.current.get(type) ?? 1, fromVersion + 1));
    return this;
  }

  currentVersion(type: string): number {
    return this.current.get(type) ?? 1;
  }

  /** Brings a stored event (an envelope, a recorded event: anything with type, version and data) to the current version. */
  upcast<E extends StoredEventShape>(event: E): E {
    const target = this.currentVersion(event.type);
    if (event.schemaVersion === target) return event;
    if (event.schemaVersion > target) {
      throw new UpcastError(`${event.type} v${event.schemaVersion} is newer than this build knows (v${target})`);
    }
    let data = event.data;
    for (let version = event.schemaVersion; version < target; version++) {
      const step = this.steps.get(event.type)?.get(version);
      if (step === undefined) throw new UpcastError(`no upcaster for ${event.type} v${version} → v${version + 1}`);
      data = step(data);
    }
    return { ...event, schemaVersion: target, data };
  }
}
