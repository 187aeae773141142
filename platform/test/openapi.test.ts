// Proves the OpenAPI document at /openapi.json describes every operation a
// client can call (commands, queries, operations, /health, /ready): each has
// a summary and a description, documents at least one failure (4xx/5xx) as
// problem details with the codes it can return, has an example of its
// success answer, and no schema anywhere in it is the empty `{}` that says
// nothing (amounts, keys, dates and positions have a type, a pattern or a
// format, and a description). It walks the whole document, so a route added
// later without documentation fails here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Platform } from "./ledger-support.ts";
import { startPlatform } from "./ledger-support.ts";

type Json = unknown;
type JsonObject = Record<string, unknown>;

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** Every place in the document that holds a schema, with a readable location. */
function schemasIn(node: Json, at: string, found: { at: string; schema: JsonObject }[] = []): { at: string; schema: JsonObject }[] {
  if (Array.isArray(node)) {
    node.forEach((item, i) => schemasIn(item, `${at}/${i}`, found));
    return found;
  }
  if (!isObject(node)) return found;
  for (const [key, value] of Object.entries(node)) {
    const here = `${at}/${key}`;
    // `additionalProperties: {}` is how a problem says "further members allowed"; it is not a value's schema.
    if (key === "schema" || key === "items" || (key === "additionalProperties" && isObject(value) && Object.keys(value).length > 0)) {
      if (isObject(value)) found.push({ at: here, schema: value });
    } else if (key === "properties" && isObject(value)) {
      for (const [name, property] of Object.entries(value)) if (isObject(property)) found.push({ at: `${here}/${name}`, schema: property });
    } else if ((key === "anyOf" || key === "oneOf" || key === "allOf") && Array.isArray(value)) {
      value.forEach((item, i) => {
        if (isObject(item)) found.push({ at: `${here}/${i}`, schema: item });
      });
    }
    if (key !== "example" && key !== "examples") schemasIn(value, here, found);
  }
  return found;
}

/** A schema says nothing when it has no type, no reference, no combination and no enum or constant. */
function saysNothing(schema: JsonObject): boolean {
  return !["type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const", "not"].some((key) => key in schema);
}

function hasExample(node: unknown): boolean {
  if (!isObject(node)) return false;
  if ("example" in node || "examples" in node) return true;
  return Object.values(node).some((value) => isObject(value) && hasExample(value));
}

describe("the OpenAPI document describes every operation", () => {
  let p: Platform;
  let document: JsonObject;
  const operations: { name: string; operation: JsonObject }[] = [];

  beforeAll(async () => {
    p = await startPlatform();
    const response = await p.app.inject({ method: "GET", url: "/openapi.json" });
    expect(response.statusCode).toBe(200);
    document = response.json<JsonObject>();
    const paths = document.paths;
    if (!isObject(paths)) throw new Error("no paths in the document");
    for (const [path, item] of Object.entries(paths)) {
      if (!isObject(item)) continue;
      for (const method of METHODS) {
        const operation = item[method];
        if (isObject(operation)) operations.push({ name: `${method.toUpperCase()} ${path}`, operation });
      }
    }
  });
  afterAll(async () => {
    await p.close();
  });

  it("lists the routes of every kind", () => {
    const names = operations.map((o) => o.name);
    for (const expected of ["GET /health", "GET /ready", "GET /projections", "POST /ledgers", "POST /ledgers/{ledgerId}/journal-entries", "GET /ledgers/{ledgerId}/trial-balance", "GET /ledgers/{ledgerId}/accounts/{code}/statement"]) {
      expect(names).toContain(expected);
    }
  });

  it("gives every operation a summary and a description", () => {
    const missing = operations.filter(({ operation }) => typeof operation.summary !== "string" || operation.summary === "" || typeof operation.description !== "string" || operation.description === "");
    expect(missing.map((o) => o.name)).toEqual([]);
  });

  it("documents at least one failure of every operation, as problem details listing its codes", () => {
    const missing: string[] = [];
    for (const { name, operation } of operations) {
      const responses = isObject(operation.responses) ? operation.responses : {};
      const failures = Object.entries(responses).filter(([status]) => /^[45]\d\d$/.test(status));
      if (failures.length === 0) missing.push(`${name}: no 4xx/5xx response`);
      for (const [status, response] of failures) {
        if (name === "GET /ready" && status === "503") continue; // readiness answers its own shape, for probes
        const content = isObject(response) && isObject(response.content) ? response.content : {};
        const problem = content["application/problem+json"];
        const codes = isObject(problem) && isObject(problem.schema) && isObject(problem.schema.properties) && isObject(problem.schema.properties.code) ? problem.schema.properties.code.enum : undefined;
        if (!Array.isArray(codes) || codes.length === 0) missing.push(`${name} ${status}: no problem+json with its codes`);
        if (isObject(response) && (typeof response.description !== "string" || !response.description.includes("`"))) missing.push(`${name} ${status}: description does not list the codes`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("gives every operation's success answer an example", () => {
    const missing = operations.filter(({ operation }) => {
      const responses = isObject(operation.responses) ? operation.responses : {};
      const success = Object.entries(responses).filter(([status]) => /^2\d\d$/.test(status));
      return success.length === 0 || !success.every(([, response]) => hasExample(response));
    });
    expect(missing.map((o) => o.name)).toEqual([]);
  });

  it("has no schema that says nothing", () => {
    const empty = schemasIn(document, "").filter(({ schema }) => saysNothing(schema));
    expect(empty.map((e) => e.at)).toEqual([]);
  });

  it("gives dates a format, and positions and amounts a pattern and a description", () => {
    const wrong: string[] = [];
    for (const { at, schema } of schemasIn(document, "")) {
      const name = at.split("/").pop() ?? "";
      if (["asOf", "from", "to", "effectiveDate"].includes(name) && schema.format !== "date") wrong.push(`${at}: no date format`);
      if (["minPosition", "position"].includes(name) && (typeof schema.pattern !== "string" || typeof schema.description !== "string")) wrong.push(`${at}: position without pattern/description`);
      if (["amount", "debit", "credit", "balance", "debitTotal", "creditTotal", "runningBalance"].includes(name) && schema.type === "string" && (typeof schema.pattern !== "string" || typeof schema.description !== "string")) wrong.push(`${at}: amount without pattern/description`);
    }
    expect(wrong).toEqual([]);
  });
});
