// Only the projections service creates or rebuilds read-model schemas: a
// command-only or query-only process that did it too could start a rebuild
// after a version bump (holding the rebuild lock, swapping schemas under the
// projections service) and make the other processes fail to start. Such a
// process instead waits here until every schema it reads exists at the
// version this build knows, answering /ready and its routes with 503 in the
// meantime, and gives up after a bound so a supervisor sees it fail.
// Once open the gate stays open: a later rebuild by a newer build is the
// deployment's business (roll the readers with the projections service).
// A document projection has no schema at a version to wait for: its store
// keeps no version (a version bump is an operator's reset, see the document
// worker) and is created by whoever opens it. The gate waits for what there
// is: the store answering for the projection's checkpoint.
import { TrueupError } from "@trueup/contracts";
import type pg from "pg";
import { readLiveCheckpoint } from "@trueup/projections";
import type { DocumentSink, RegisteredProjection } from "@trueup/projections";
import type { FastifyBaseLogger } from "fastify";
import type { RoutesPlugin } from "./app.ts";

export const READ_MODEL_GATE_LIMITS = {
  /** How often the schemas are looked at while waiting. */
  pollMs: 500,
  /** How long to wait for the projections service (a rebuild of a large log takes minutes) before failing. */
  waitMaxMs: 30 * 60_000,
} as const;

export interface ReadModelGateOptions {
  readonly pool: pg.Pool;
  /** The projections this process reads; none: the gate is open from the start. */
  readonly projections: readonly RegisteredProjection[];
  /** The document store, when this process reads a document projection. */
  readonly documents?: Pick<DocumentSink, "readCheckpoint"> | undefined;
  readonly pollMs?: number;
  readonly waitMaxMs?: number;
}

export class ReadModelGate {
  /** Why the gate is closed; undefined once open. */
  private waitingFor: string | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: ReadModelGateOptions) {
    // Closed until start() has looked: routes may be registered before the first look.
    const names = options.projections.map(describe).join(", ");
    this.waitingFor = options.projections.length === 0 ? undefined : `read models not checked yet: ${names}`;
  }

  /** Starts looking; resolves once open, rejects when the wait reached its bound (the process should then exit). */
  start(log: FastifyBaseLogger): Promise<void> {
    return this.waitingFor === undefined ? Promise.resolve() : this.waitForSchemas(log);
  }

  get isOpen(): boolean {
    return this.waitingFor === undefined;
  }

  /** Throws READ_MODEL_NOT_READY (503) while closed. */
  assertOpen(): void {
    if (this.waitingFor !== undefined) throw new TrueupError("READ_MODEL_NOT_READY", this.waitingFor);
  }

  /** `plugin` with every one of its routes answering 503 READ_MODEL_NOT_READY while the gate is closed. */
  guard(plugin: RoutesPlugin): RoutesPlugin {
    return async (app) => {
      app.addHook("onRequest", async () => {
        this.assertOpen();
      });
      await plugin(app);
    };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
  }

  private async waitForSchemas(log: FastifyBaseLogger): Promise<void> {
    const pollMs = this.options.pollMs ?? READ_MODEL_GATE_LIMITS.pollMs;
    const waitMaxMs = this.options.waitMaxMs ?? READ_MODEL_GATE_LIMITS.waitMaxMs;
    const deadlineMs = Date.now() + waitMaxMs;
    let logged: string | undefined;
    while (!this.stopped) {
      const missing = await this.missing().catch((error: unknown) => `cannot read the read-model schemas: ${error instanceof Error ? error.message : String(error)}`);
      if (missing === undefined) {
        this.waitingFor = undefined;
        if (logged !== undefined) log.info("read models ready at this build's versions");
        return;
      }
      this.waitingFor = missing;
      if (missing !== logged) log.warn(`waiting up to ${waitMaxMs} ms for the projections service: ${missing}`);
      logged = missing;
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) {
        const message = `read models not ready after ${waitMaxMs} ms: ${missing} (only the projections service creates or rebuilds them; is it running?)`;
        log.fatal(message);
        throw new Error(message);
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, Math.min(pollMs, remainingMs));
      });
    }
  }

  /** The first projection whose live schema is missing or at another version (or whose store does not answer), described; undefined when all are ready. */
  private async missing(): Promise<string | undefined> {
    for (const projection of this.options.projections) {
      const missing = await this.missingOne(projection);
      if (missing !== undefined) return missing;
    }
    return undefined;
  }

  private async missingOne(projection: RegisteredProjection): Promise<string | undefined> {
    switch (projection.kind) {
      case "postgres": {
        const checkpoint = await readLiveCheckpoint(this.options.pool, projection);
        if (checkpoint === undefined) return `schema ${projection.schemaName} of projection ${projection.name} does not exist yet`;
        if (checkpoint.version !== projection.version) {
          return `schema ${projection.schemaName} is at version ${checkpoint.version} of projection ${projection.name}; this build reads version ${projection.version}`;
        }
        return undefined;
      }
      case "document": {
        const documents = this.options.documents;
        if (documents === undefined) return `no document store is open for projection ${projection.name}`;
        // Answers (a checkpoint, or none yet): the store is there. A failure is reported by the caller's catch.
        await documents.readCheckpoint(projection.name);
        return undefined;
      }
      default: {
        const unknown: never = projection;
        throw new TypeError(`unknown projection kind ${String((unknown as { kind?: unknown }).kind)}`);
      }
    }
  }
}

function describe(projection: RegisteredProjection): string {
  switch (projection.kind) {
    case "postgres":
      return `${projection.schemaName} (version ${projection.version} of ${projection.name})`;
    case "document":
      return `collections ${projection.collections.join(", ")} (of document projection ${projection.name})`;
    default: {
      const unknown: never = projection;
      throw new TypeError(`unknown projection kind ${String((unknown as { kind?: unknown }).kind)}`);
    }
  }
}
