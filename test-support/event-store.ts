// Test helper: a real event store with some of its members replaced (a fault
// or a hook injected around the real call), everything else the store's own.
// It is not an instance of the adapter's class, so code that must reach a
// capability through the port (not `instanceof`) is tested as such. Written
// once, so a port that grows a method does not break every hand-written copy.
import type { EventStore } from "@trueup/event-store";

export function withOverrides(store: EventStore, overrides: Partial<EventStore>): EventStore {
  const replaced = new Map<PropertyKey, unknown>(Object.entries(overrides));
  return new Proxy(store, {
    get: (target, property, receiver) => (replaced.has(property) ? replaced.get(property) : Reflect.get(target, property, receiver) as unknown),
    getPrototypeOf: () => Object.prototype,
  });
}
