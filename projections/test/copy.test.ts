// COPY's text format, cell by cell: what PostgreSQL reads back must be the
// value written, whatever mix of backslashes and line breaks it holds.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { copyCell, copyIn, copyText } from "../src/postgres/copy.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";

/** The format's rule, character by character (PostgreSQL's COPY documentation). */
function escapedByRule(text: string): string {
  let escaped = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    escaped += c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : c;
  }
  return escaped;
}

const tricky = fc.string({ unit: fc.constantFrom("\\", "\n", "\r", "\t", "N", "n", "a", "é", " ") });

describe("copyCell", () => {
  it("escapes exactly backslash, newline, carriage return and tab, in any mix", () => {
    fc.assert(fc.property(tricky, (text) => copyCell(text) === escapedByRule(text)), { numRuns: 5000 });
    expect(copyCell(null)).toBe("\\N");
    expect(copyCell("\\N")).toBe("\\\\N");
    expect(copyCell(12)).toBe("12");
  });

  it("round-trips through a real COPY", async () => {
    const db = await createTestDatabase({ poolMax: 1 });
    try {
      const values = fc.sample(tricky, 300).concat(["", "\\", "\\\\n", "a\r\nb", "\t\t"]);
      const client = await db.pool.connect();
      try {
        await client.query("CREATE TABLE cells (n integer, v text)");
        await copyIn(client, "cells", ["n", "v"], copyText(2, values.map((v, i) => [i, v])));
        const { rows } = await client.query<{ v: string }>("SELECT v FROM cells ORDER BY n");
        expect(rows.map((r) => r.v)).toEqual(values);
      } finally {
        client.release();
      }
    } finally {
      await db.drop();
    }
  });
});
