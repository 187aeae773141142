// The reconciliation context's command API: one plugin that registers each
// slice's routes (bank accounts, CSV profiles, matching rules, matches, statement imports). Every
// command needs an Idempotency-Key, as in the ledger (http/command-runner.ts).
import type { FastifyInstance } from "fastify";
import type { EventStore } from "@trueup/event-store";
import type { IdempotencyStore } from "../idempotency.ts";
import type { InFlight } from "../in-flight.ts";
import type { AtomicAppender } from "../stream-writer.ts";
import { BankAccountCommandService, bankAccountCommandRoutes } from "./bank-accounts/index.ts";
import { CsvProfileCommandService, csvProfileCommandRoutes, readCsvProfile } from "./csv-profiles/index.ts";
import { importRoutes } from "./import/routes.ts";
import { MatchingRulesCommandService, matchingRulesCommandRoutes } from "./matching-rules/index.ts";
import { matchCommandRoutes } from "./matches/routes.ts";
import { exceptionCommandRoutes } from "./exceptions/routes.ts";
import { periodCommandRoutes } from "./periods/routes.ts";
import { MatchCommandService } from "./matches/service.ts";
import type { MatchItemReader, PeriodBalanceReader } from "./matches/items.ts";
import type { ImportRouteOptions } from "./import/routes.ts";

export interface ReconciliationCommandRoutesDeps {
  readonly eventStore: EventStore;
  readonly idempotency: IdempotencyStore;
  readonly atomic: AtomicAppender | undefined;
  readonly inFlight?: InFlight;
  /** Limits and spool directory of the statement import routes (defaults: IMPORT_ROUTE_LIMITS, os.tmpdir()). */
  readonly imports?: ImportRouteOptions | undefined;
  /** The amounts of items a clerk matches by hand (read models). */
  readonly matchItems: MatchItemReader & PeriodBalanceReader;
  /** Throws READ_MODEL_NOT_READY while the read models matchItems reads are not there. */
  readonly assertReadModelsReady: () => void;
}

export function reconciliationCommandRoutes(deps: ReconciliationCommandRoutesDeps) {
  // Each slice registers its routes here: `await app.register(…Routes(deps));`.
  return async (app: FastifyInstance): Promise<void> => {
    app.log.debug({ deps: Object.keys(deps) }, "reconciliation routes");
    await app.register(bankAccountCommandRoutes({ service: new BankAccountCommandService({ store: deps.eventStore, atomic: deps.atomic }), idempotency: deps.idempotency, inFlight: deps.inFlight }));
    await app.register(csvProfileCommandRoutes({ service: new CsvProfileCommandService({ store: deps.eventStore }), idempotency: deps.idempotency, inFlight: deps.inFlight }));
    await app.register(matchingRulesCommandRoutes({ service: new MatchingRulesCommandService({ store: deps.eventStore }), idempotency: deps.idempotency, inFlight: deps.inFlight }));
    // One service for every recon-stream decision: one cache of each account's state.
    const matches = new MatchCommandService({ store: deps.eventStore });
    const recon = { service: matches, store: deps.eventStore, items: deps.matchItems, idempotency: deps.idempotency, inFlight: deps.inFlight, assertReadModelsReady: deps.assertReadModelsReady };
    for (const slice of [matchCommandRoutes, exceptionCommandRoutes, periodCommandRoutes]) await app.register(slice(recon));
    const csvProfile = (ledgerId: string, profileId: string) => readCsvProfile(deps.eventStore, ledgerId, profileId);
    await app.register(importRoutes({ eventStore: deps.eventStore, idempotency: deps.idempotency, inFlight: deps.inFlight, csvProfile, ...deps.imports }));
  };
}
