// Every projection the platform runs, in one list. The composition root
// starts a worker per entry, the operations routes report each one, and the
// query side finds the projection its reads wait for here, so a new bounded
// context adds its projections to the registry and nothing else changes.
// Names key checkpoints and schema names key read models: two projections
// sharing either would overwrite each other, so registration refuses it.
import { checkProjection } from "./postgres/definition.ts";
import type { PostgresProjection } from "./postgres/definition.ts";

/** A projection with any sink (today only PostgreSQL; a document sink joins the union). */
export type RegisteredProjection = PostgresProjection;

/** Projections one process may run: a limit so a mistake in a module list cannot start workers without bound. */
export const REGISTRY_PROJECTIONS_MAX = 100;

export class ProjectionRegistry {
  private readonly byName = new Map<string, RegisteredProjection>();

  constructor(projections: readonly RegisteredProjection[] = []) {
    for (const projection of projections) this.register(projection);
  }

  register(projection: RegisteredProjection): void {
    checkProjection(projection);
    if (this.byName.size >= REGISTRY_PROJECTIONS_MAX) throw new RangeError(`at most ${REGISTRY_PROJECTIONS_MAX} projections may be registered`);
    if (this.byName.has(projection.name)) throw new Error(`projection ${projection.name} is registered twice`);
    for (const other of this.byName.values()) {
      if (other.schemaName === projection.schemaName) {
        throw new Error(`projections ${other.name} and ${projection.name} would both write schema ${projection.schemaName}`);
      }
    }
    this.byName.set(projection.name, projection);
  }

  /** In registration order. */
  all(): readonly RegisteredProjection[] {
    return [...this.byName.values()];
  }

  get(name: string): RegisteredProjection {
    const projection = this.byName.get(name);
    if (projection === undefined) throw new Error(`no projection ${name} is registered`);
    return projection;
  }
}
