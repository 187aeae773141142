// Proves the registry refuses what would make two projections overwrite each
// other (a shared checkpoint name or a shared schema) and anything
// checkProjection refuses, and keeps registration order.
import { describe, expect, it } from "vitest";
import { ProjectionRegistry, REGISTRY_PROJECTIONS_MAX, ledgerProjection } from "../src/index.ts";

describe("projection registry", () => {
  it("lists projections in registration order and finds each by name", () => {
    const second = { ...ledgerProjection, name: "ledger_copy", schemaName: "rm_ledger_copy" };
    const registry = new ProjectionRegistry([ledgerProjection, second]);
    expect(registry.all().map((p) => p.name)).toEqual(["ledger", "ledger_copy"]);
    expect(registry.get("ledger_copy")).toBe(second);
    expect(() => registry.get("nope")).toThrow(/no projection nope/);
  });

  it("refuses a second projection with the same name or the same schema", () => {
    expect(() => new ProjectionRegistry([ledgerProjection, { ...ledgerProjection, schemaName: "rm_other" }])).toThrow(/registered twice/);
    expect(() => new ProjectionRegistry([ledgerProjection, { ...ledgerProjection, name: "other" }])).toThrow(/both write schema rm_ledger/);
  });

  it("refuses a schema name checkProjection refuses", () => {
    expect(() => new ProjectionRegistry([{ ...ledgerProjection, schemaName: "rm__x" }])).toThrow(RangeError);
  });

  it(`stops at ${REGISTRY_PROJECTIONS_MAX} projections`, () => {
    const registry = new ProjectionRegistry();
    for (let i = 0; i < REGISTRY_PROJECTIONS_MAX; i++) registry.register({ ...ledgerProjection, name: `p${i}`, schemaName: `rm_p${i}` });
    expect(() => { registry.register({ ...ledgerProjection, name: "one_more", schemaName: "rm_one_more" }); }).toThrow(RangeError);
  });
});
