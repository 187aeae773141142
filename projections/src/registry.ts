// Every projection the platform runs, in one list. The composition root
// starts a worker per entry, the operations routes report each one, and the
// query side finds the projection its reads wait for here, so a new bounded
// context adds its projections to the registry and nothing else changes.
// Names key checkpoints, schema names key PostgreSQL read models and
// collection names key document read models (all document projections of a
// process share one document store): two projections sharing any of them
// would overwrite each other, so registration refuses it.
import type { DocumentProjection } from "./documents/worker.ts";
import { checkDocumentProjection } from "./documents/worker.ts";
import { checkProjection } from "./postgres/definition.ts";
import type { PostgresProjection } from "./postgres/definition.ts";

/** A projection with any sink (SinkKind); `kind` says which, and so which worker runs it. */
export type RegisteredProjection = PostgresProjection | DocumentProjection;

/** Projections one process may run: a limit so a mistake in a module list cannot start workers without bound. */
export const REGISTRY_PROJECTIONS_MAX = 100;

export class ProjectionRegistry {
  private readonly byName = new Map<string, RegisteredProjection>();

  constructor(projections: readonly RegisteredProjection[] = []) {
    for (const projection of projections) this.register(projection);
  }

  register(projection: RegisteredProjection): void {
    checkKind(projection);
    if (this.byName.size >= REGISTRY_PROJECTIONS_MAX) throw new RangeError(`at most ${REGISTRY_PROJECTIONS_MAX} projections may be registered`);
    if (this.byName.has(projection.name)) throw new Error(`projection ${projection.name} is registered twice`);
    for (const other of this.byName.values()) {
      const shared = sharedStorage(other, projection);
      if (shared !== undefined) throw new Error(`projections ${other.name} and ${projection.name} would both write ${shared}`);
    }
    this.byName.set(projection.name, projection);
  }

  /** In registration order. */
  all(): readonly RegisteredProjection[] {
    return [...this.byName.values()];
  }

  /** The projections into PostgreSQL tables, in registration order. */
  postgres(): readonly PostgresProjection[] {
    return this.all().filter((p): p is PostgresProjection => p.kind === "postgres");
  }

  /** The projections into documents, in registration order. */
  documents(): readonly DocumentProjection[] {
    return this.all().filter((p): p is DocumentProjection => p.kind === "document");
  }

  get(name: string): RegisteredProjection {
    const projection = this.byName.get(name);
    if (projection === undefined) throw new Error(`no projection ${name} is registered`);
    return projection;
  }
}

function checkKind(projection: RegisteredProjection): void {
  switch (projection.kind) {
    case "postgres":
      checkProjection(projection);
      return;
    case "document":
      checkDocumentProjection(projection);
      return;
    default: {
      const unknown: never = projection;
      throw new TypeError(`unknown projection kind ${String((unknown as { kind?: unknown }).kind)}`);
    }
  }
}

/** What two projections would both write, described; undefined when nothing. Different kinds write different stores. */
function sharedStorage(a: RegisteredProjection, b: RegisteredProjection): string | undefined {
  if (a.kind === "postgres" && b.kind === "postgres") return a.schemaName === b.schemaName ? `schema ${a.schemaName}` : undefined;
  if (a.kind === "document" && b.kind === "document") {
    const collection = a.collections.find((c) => b.collections.includes(c));
    return collection === undefined ? undefined : `collection ${collection}`;
  }
  return undefined;
}
