// The ledger context: accounts, journal entries, reversals and periods
// (command-side), balances, trial balance, statements and the journal
// (query-side), over the ledger read model (projections).
import { LedgerCommandService, ledgerCommandRoutes } from "@trueup/command-side";
import { ledgerProjection } from "@trueup/projections";
import { LedgerReader, ledgerQueryRoutes } from "@trueup/query-side";
import type { BoundedContextModule } from "./modules.ts";

export const ledgerModule: BoundedContextModule = {
  name: "ledger",
  projections: [ledgerProjection],
  // Commands decide from the log alone (a reversal finds its entry by event id).
  commandReads: [],
  commandRoutes: ({ eventStore, idempotency, atomic, inFlight }) => {
    const service = new LedgerCommandService(eventStore, atomic);
    return ledgerCommandRoutes({ service, idempotency, inFlight });
  },
  queryRoutes: ({ pool, waitForPosition }) => {
    const reader = new LedgerReader(pool, ledgerProjection.schemaName);
    return ledgerQueryRoutes({ reader, waitForPosition: (position, timeoutMs) => waitForPosition(ledgerProjection, position, timeoutMs) });
  },
};
