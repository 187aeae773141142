// The reconciliation context: bank and PSP accounts, statements in every
// format, their lines (command-side/src/reconciliation), the read models of
// them (projections/src/reconciliation) and their queries
// (query-side/src/reconciliation).
import type { BoundedContextModule } from "./modules.ts";

export const reconciliationModule: BoundedContextModule = {
  name: "reconciliation",
  projections: [],
  commandReads: [],
};
